ALTER TABLE event_relay RESET (vacuum_truncate);
ALTER TABLE jobs RESET (vacuum_truncate);
DROP INDEX jobs_queued_kind_run_at_idx;
