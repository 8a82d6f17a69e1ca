-- Sending: message templates, idempotency keys, the provider activity log, and
-- the marker that makes a crash mid-send visible instead of sending twice.

CREATE TABLE templates (
    id                   uuid PRIMARY KEY,
    connection_id        uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    provider_template_id text,
    name                 text NOT NULL,
    language             text NOT NULL,
    category             text,
    status               text NOT NULL,
    -- Meta-shaped components; the parameters a send needs are derived from them.
    components           jsonb NOT NULL DEFAULT '[]',
    status_reason        text,
    synced_at            timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (connection_id, name, language)
);

-- One answer per (caller, key) for 24 hours: the same request gets the same
-- answer and one send.
CREATE TABLE idempotency_keys (
    scope           text NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- Every call made to a provider, with bodies already redacted.
CREATE TABLE activity_log (
    id            uuid PRIMARY KEY,
    connection_id uuid REFERENCES connections (id) ON DELETE SET NULL,
    provider      text NOT NULL,
    operation     text NOT NULL,
    method        text NOT NULL,
    path          text NOT NULL,
    status        integer,
    duration_ms   integer NOT NULL,
    request_body  text,
    response_body text,
    error         text,
    message_id    uuid,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Set just before the provider is called; a delivery that finds it set knows
-- an earlier attempt may have reached the provider.
ALTER TABLE messages ADD COLUMN send_started_at timestamptz;

CREATE INDEX conversations_assigned_idx ON conversations (assigned_to, id);
CREATE INDEX conversations_number_idx ON conversations (number_id, id);
CREATE INDEX conversations_status_idx ON conversations (status, id);
CREATE INDEX conversations_snoozed_idx ON conversations (snooze_until) WHERE status = 'snoozed';
