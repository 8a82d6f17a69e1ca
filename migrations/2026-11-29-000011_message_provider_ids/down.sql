DROP INDEX message_status_events_report_key;
CREATE UNIQUE INDEX message_status_events_report_key
    ON message_status_events (provider, provider_message_id, status, occurred_at);
DROP INDEX message_status_events_waiting_idx;
ALTER TABLE message_status_events
    DROP COLUMN recipient,
    DROP COLUMN connection_id;
DROP TABLE message_provider_ids;
