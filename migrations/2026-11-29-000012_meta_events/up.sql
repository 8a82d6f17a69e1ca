-- What Meta tells us beyond messages and statuses: errors that belong to no
-- message, customers' marketing preferences, and a template's quality,
-- category and lock.

-- System errors a provider reports outside any message (Meta's value-level
-- `errors`), kept for the connection's health and the admin list.
CREATE TABLE provider_errors (
    id            uuid PRIMARY KEY,
    connection_id uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    number_id     uuid REFERENCES numbers (id) ON DELETE SET NULL,
    code          text NOT NULL,
    title         text NOT NULL,
    details       text,
    -- The error object as the provider wrote it.
    raw           jsonb NOT NULL DEFAULT '{}',
    occurred_at   timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_errors_connection_idx ON provider_errors (connection_id, id);

-- A phone's current marketing state: `subscribed` or `opted_out`.
CREATE TABLE marketing_consent (
    phone      text PRIMARY KEY,
    state      text NOT NULL CHECK (state IN ('subscribed', 'opted_out')),
    reason     text,
    source     text NOT NULL,
    changed_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every change of a phone's marketing state, as it was reported; append-only.
CREATE TABLE consent_history (
    id          uuid PRIMARY KEY,
    phone       text NOT NULL,
    state       text NOT NULL CHECK (state IN ('subscribed', 'opted_out')),
    reason      text,
    source      text NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- A webhook processed twice records its change once.
    UNIQUE (phone, state, source, occurred_at)
);
CREATE INDEX consent_history_phone_idx ON consent_history (phone, occurred_at);

ALTER TABLE templates
    ADD COLUMN quality_score text,
    ADD COLUMN quality_updated_at timestamptz,
    ADD COLUMN locked_at timestamptz;

-- `played`: a voice message the customer listened to (after `read`).
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'played', 'failed'));
