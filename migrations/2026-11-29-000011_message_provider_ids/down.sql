DROP INDEX message_status_events_waiting_idx;
ALTER TABLE message_status_events
    DROP COLUMN recipient,
    DROP COLUMN connection_id;
DROP TABLE message_provider_ids;
