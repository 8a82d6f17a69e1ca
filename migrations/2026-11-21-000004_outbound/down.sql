DROP INDEX conversations_snoozed_idx;
DROP INDEX conversations_status_idx;
DROP INDEX conversations_number_idx;
DROP INDEX conversations_assigned_idx;
ALTER TABLE messages DROP COLUMN send_started_at;
DROP TABLE activity_log;
DROP TABLE idempotency_keys;
DROP TABLE templates;
