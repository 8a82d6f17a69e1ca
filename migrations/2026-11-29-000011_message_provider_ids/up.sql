-- Every id a provider gave one of our outbound messages, on the connection it
-- went through: Meta's wamid; TATA's request id and, once known, the wamid;
-- Whats91's queueUid / reportUid for a queued send and, once known, the wamid.
-- A status report is matched by any of them, and only on its own connection.
-- `kind`: `message` is the id status reports name (the wamid, or Lipachat's
-- echo of our own id); `request`, `queue` and `report` are the provider's other ids.
CREATE TABLE message_provider_ids (
    connection_id       uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    provider_message_id text NOT NULL,
    message_id          uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('message', 'request', 'queue', 'report')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, provider_message_id)
);
CREATE INDEX message_provider_ids_message_idx ON message_provider_ids (message_id);

-- The ids outbound messages already carry. A TATA id that is not a wamid is
-- its request id; any other is taken for the id its statuses name.
INSERT INTO message_provider_ids (connection_id, provider_message_id, message_id, kind, created_at)
SELECT numbers.connection_id, messages.provider_message_id, messages.id,
       CASE WHEN messages.provider = 'tata' AND messages.provider_message_id NOT LIKE 'wamid.%'
            THEN 'request' ELSE 'message' END,
       messages.updated_at
FROM messages
JOIN conversations ON conversations.id = messages.conversation_id
JOIN numbers ON numbers.id = conversations.number_id
WHERE messages.direction = 'outbound' AND messages.provider_message_id IS NOT NULL
ON CONFLICT DO NOTHING;

-- A status that found no message yet waits, on its connection, for the
-- message to get its id (or, for TATA and Whats91, to be claimed by recipient).
ALTER TABLE message_status_events
    ADD COLUMN connection_id uuid REFERENCES connections (id) ON DELETE CASCADE,
    ADD COLUMN recipient     text;
CREATE INDEX message_status_events_waiting_idx
    ON message_status_events (connection_id, provider_message_id)
    WHERE message_id IS NULL;

-- A provider's second delivery of a report is one event, per connection: the
-- same report posted to another connection is that connection's own.
DROP INDEX message_status_events_report_key;
CREATE UNIQUE INDEX message_status_events_report_key
    ON message_status_events (provider, connection_id, provider_message_id, status, occurred_at);
