DROP INDEX messages_provider_message_idx;
DROP INDEX messages_conversation_provider_message_key;
CREATE UNIQUE INDEX messages_provider_message_key ON messages (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_connection_event_key_key;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_provider_event_key_key
    UNIQUE (provider, event_key);

DROP TABLE login_attempts;
CREATE TABLE login_failures (
    id           bigserial PRIMARY KEY,
    throttle_key text NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key_idx ON login_failures (throttle_key, failed_at);
