-- Short leases with a heartbeat, and delivery in order per conversation.
--
-- Each claim of a leased job gets a fresh token: the runner renews the lease
-- and records the outcome only where the token is still its own, so a runner
-- whose lease ran out (and whose job another runner took over) never writes
-- over the new owner's attempt.
ALTER TABLE jobs ADD COLUMN claim_token uuid;

-- Jobs sharing an ordering key (a conversation's deliveries) are claimed in
-- the order they were queued: a job waits while an earlier one with its key is
-- queued for its first attempt or running, or has been failing for less than
-- the runner's bound.
ALTER TABLE jobs ADD COLUMN ordering_key text;

-- The claim's "is an earlier job of this key still active?" probe.
CREATE INDEX jobs_ordering_key_active_idx ON jobs (ordering_key, id)
    WHERE ordering_key IS NOT NULL AND status IN ('queued', 'running');
