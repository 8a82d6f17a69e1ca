-- Login attempts are counted in one row per throttle key, updated by an
-- upsert before the password is checked: concurrent guesses serialise on the
-- row, so a burst cannot slip past the limit between a check and a record.
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    throttle_key      text PRIMARY KEY,
    attempts          integer NOT NULL,
    window_started_at timestamptz NOT NULL
);

-- A webhook body, and a provider's message id, are unique to the connection
-- that received them (a message's conversation belongs to one number, hence to
-- one connection): the same body or id posted to another connection is that
-- connection's own event, never a duplicate of the first.
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_provider_event_key_key;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_connection_event_key_key
    UNIQUE (connection_id, event_key);
DROP INDEX messages_provider_message_key;
CREATE UNIQUE INDEX messages_conversation_provider_message_key
    ON messages (conversation_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
-- Statuses still find their message by the provider's id.
CREATE INDEX messages_provider_message_idx
    ON messages (provider, provider_message_id) WHERE provider_message_id IS NOT NULL;
