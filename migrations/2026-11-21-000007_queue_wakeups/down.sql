DROP INDEX jobs_unique_key_active_key;
CREATE UNIQUE INDEX jobs_unique_key_active_key ON jobs (unique_key)
    WHERE status IN ('queued', 'running');

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
