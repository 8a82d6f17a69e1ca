-- The background job queue. A worker claims a job with a lease (`locked_until`)
-- instead of holding a transaction open across slow provider calls; a job whose
-- lease runs out (its worker crashed) is claimed again. Finished jobs are
-- deleted, so the table holds only work still to do and the dead.

CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    -- Set for jobs that must not be queued twice (periodic jobs).
    unique_key   text,
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'dead')),
    -- Attempts started so far: each claim starts one.
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL CHECK (max_attempts > 0),
    run_at       timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- At most one active job per key; a dead job does not block a new one.
CREATE UNIQUE INDEX jobs_unique_key_active_key ON jobs (unique_key)
    WHERE status IN ('queued', 'running');

-- The claim query: queued jobs due by run_at, running jobs whose lease expired.
CREATE INDEX jobs_status_run_at_idx ON jobs (status, run_at);

-- Wakes listening workers. NOTIFY is delivered on commit (never for a rolled
-- back insert) and once per statement, so a batch insert wakes them once.
CREATE FUNCTION jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wacrm_jobs', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify
    AFTER INSERT ON jobs
    FOR EACH STATEMENT
    EXECUTE FUNCTION jobs_notify();
