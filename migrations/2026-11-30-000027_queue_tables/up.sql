-- The queue tables, tuned for what they are: a few thousand rows passing
-- through at a thousand a second.

-- A job that takes over the queued jobs of its own kind (`take_queued`: a
-- processing job takes the webhook batches behind it, a bots job the bots
-- jobs) reads them from here. Through `jobs_status_run_at_idx` it stepped over
-- every queued job of other kinds due before them: 22 ms a call while a
-- backlog of webhooks waited to be processed with a bot active (1 ms now).
CREATE INDEX jobs_queued_kind_run_at_idx ON jobs (kind, run_at) WHERE status = 'queued';

-- No truncation by VACUUM. Truncating the empty pages at a table's end takes
-- an ACCESS EXCLUSIVE lock: every transaction that queues a job or publishes
-- an event (a send's record, a batch of webhooks) and the relay waited for it.
-- Measured at 1,000 sends a second: `event_relay` truncated from 494 to 130
-- pages in a vacuum of 0.6 s, the vacuum averaging 1.7 s, the relay 32 ms a
-- batch, and the sends dipping to 650/s. The pages are refilled within
-- seconds anyway.
ALTER TABLE jobs SET (vacuum_truncate = false);
ALTER TABLE event_relay SET (vacuum_truncate = false);
