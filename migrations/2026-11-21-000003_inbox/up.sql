-- Provider connections and business numbers, raw webhook events, and the inbox:
-- conversations, messages, their status history, and settings.

CREATE TABLE connections (
    id           uuid PRIMARY KEY,
    provider     text NOT NULL CHECK (provider IN ('meta', 'lipachat', 'whats91', 'tata')),
    name         text NOT NULL,
    base_url     text,
    -- AES-256-GCM(nonce || ciphertext) of the credentials JSON, bound to `id`.
    credentials  bytea NOT NULL,
    is_healthy   boolean NOT NULL DEFAULT true,
    health_error text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE numbers (
    id                  uuid PRIMARY KEY,
    connection_id       uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    phone               text NOT NULL,
    phone_normalized    text NOT NULL,
    provider_number_id  text,
    is_default          boolean NOT NULL DEFAULT false,
    messages_per_second integer NOT NULL DEFAULT 80 CHECK (messages_per_second > 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX numbers_default_key ON numbers (connection_id) WHERE is_default;
CREATE UNIQUE INDEX numbers_phone_key ON numbers (connection_id, phone_normalized);
CREATE UNIQUE INDEX numbers_provider_number_id_key ON numbers (connection_id, provider_number_id)
    WHERE provider_number_id IS NOT NULL;

-- Every webhook body as received, stored before we answer 200.
CREATE TABLE webhook_events (
    id            uuid PRIMARY KEY,
    connection_id uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    provider      text NOT NULL,
    -- SHA-256 of the body: a provider's retry of the same delivery is one event.
    event_key     text NOT NULL,
    body          bytea NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'failed')),
    error         text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    UNIQUE (provider, event_key)
);
CREATE INDEX webhook_events_failed_idx ON webhook_events (id) WHERE status = 'failed';

CREATE TABLE conversations (
    id                   uuid PRIMARY KEY,
    number_id            uuid NOT NULL REFERENCES numbers (id) ON DELETE CASCADE,
    -- E.164 digits without `+`.
    customer_phone       text NOT NULL,
    profile_name         text,
    rel_type             text NOT NULL DEFAULT 'general' CHECK (rel_type IN ('lead', 'contact', 'staff', 'general')),
    rel_id               uuid,
    status               text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved', 'snoozed')),
    assigned_to          uuid REFERENCES staff (id) ON DELETE SET NULL,
    unread_count         integer NOT NULL DEFAULT 0,
    last_message_id      uuid,
    last_message_at      timestamptz,
    last_message_preview text,
    -- The session window: open until 24 h after the latest inbound message.
    session_expires_at   timestamptz,
    snooze_until         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (number_id, customer_phone)
);
CREATE INDEX conversations_rel_idx ON conversations (rel_type, id);

CREATE TABLE messages (
    id                  uuid PRIMARY KEY,
    conversation_id     uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    direction           text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    kind                text NOT NULL,
    body                text NOT NULL,
    payload             jsonb NOT NULL DEFAULT '{}',
    provider            text NOT NULL,
    provider_message_id text,
    status              text NOT NULL CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed')),
    error               jsonb,
    sent_by             text,
    -- The provider's timestamp for inbound messages; our send time for outbound.
    sent_at             timestamptz NOT NULL,
    context_message_id  text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX messages_provider_message_key ON messages (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);

-- A message's media: known at once from the webhook, fetched into the object
-- store by a job (`stored_key` is set once the bytes are ours).
CREATE TABLE message_media (
    message_id  uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    source      jsonb NOT NULL,
    mime_type   text,
    filename    text,
    sha256      text,
    stored_key  text,
    size_bytes  bigint,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every status a provider reported, applied or not (late, lower statuses are
-- kept here and change nothing else).
CREATE TABLE message_status_events (
    id                  uuid PRIMARY KEY,
    message_id          uuid REFERENCES messages (id) ON DELETE CASCADE,
    provider            text NOT NULL,
    provider_message_id text NOT NULL,
    status              text NOT NULL,
    occurred_at         timestamptz NOT NULL,
    applied             boolean NOT NULL,
    errors              jsonb NOT NULL DEFAULT '[]',
    billing             jsonb,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_status_events_message_idx ON message_status_events (message_id, occurred_at);
-- A provider's second delivery of the same status report is one event.
CREATE UNIQUE INDEX message_status_events_report_key
    ON message_status_events (provider, provider_message_id, status, occurred_at);

CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
