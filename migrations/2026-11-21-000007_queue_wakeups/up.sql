-- Workers are woken after the commit, not by a trigger inside it.
--
-- NOTIFY in a transaction that writes takes PostgreSQL's global notify-queue
-- lock from pre-commit until its commit record is flushed, so every
-- transaction that queued a job (each ingest group commit, each processed
-- webhook) committed one at a time, one WAL flush each (bench/README.md).
-- wacrm now sends the NOTIFY as a statement of its own once the jobs are
-- committed (`wacrm_worker::JobSignal`); polling still covers a lost one.
DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION jobs_notify();

-- Most jobs have no unique key: keep them out of the uniqueness index, which
-- every enqueue otherwise has to update.
DROP INDEX jobs_unique_key_active_key;
CREATE UNIQUE INDEX jobs_unique_key_active_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('queued', 'running');
