-- Webhooks for integrators (issue 12, item 4): the endpoints admins register,
-- the durable outbox of deliveries written by `events::publish` in the
-- transaction of the change, and every attempt made to deliver one.

-- UUIDv7 (time-ordered, for keyset pagination) made in SQL: deliveries are
-- created by the statement that publishes events, not in Rust.
-- PostgreSQL 18 has `uuidv7()`; this is the same layout for older servers.
CREATE FUNCTION webhook_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

CREATE TABLE webhook_endpoints (
    id                    uuid PRIMARY KEY,
    url                   text NOT NULL,
    description           text NOT NULL DEFAULT '',
    -- Integrator catalogue names (`message.received`, …), checked by the API.
    event_types           text[] NOT NULL CHECK (cardinality(event_types) > 0),
    enabled               boolean NOT NULL DEFAULT true,
    -- Set by an admin: deliveries may reach loopback and private addresses.
    allow_private_targets boolean NOT NULL DEFAULT false,
    -- `whsec_…`, sealed with WACRM_MASTER_KEY and bound to the row.
    secret                bytea NOT NULL,
    -- After a rotation, the old secret keeps signing until it expires.
    previous_secret       bytea,
    previous_secret_expires_at timestamptz,
    -- Deliveries that ran out of attempts since the last success.
    consecutive_failures  integer NOT NULL DEFAULT 0,
    -- Why wacrm disabled it (`gone`: the receiver answered 410;
    -- `failing`: too many deliveries in a row failed), when.
    disabled_reason       text CHECK (disabled_reason IN ('gone', 'failing')),
    disabled_at           timestamptz,
    created_by            uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- One row per event and subscribed endpoint. `id` is the `webhook-id` the
-- receiver sees, the same on every attempt and on replays.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type      text NOT NULL,
    -- The body as sent: `{type, timestamp, data}`.
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Attempts started since it was created or last replayed (the schedule's step).
    attempts        integer NOT NULL DEFAULT 0,
    -- When the next attempt is due; a claim moves it ahead by a lease, so a
    -- dispatcher that dies leaves it to be taken again then.
    next_attempt_at timestamptz,
    last_status_code integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The dispatcher's claim: pending deliveries by due time.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- An endpoint's deliveries, newest first (the list and the replay's range).
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id DESC);

CREATE TABLE webhook_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    -- The receiver's answer; null when none came (timeout, refused address…).
    status_code  integer,
    duration_ms  integer NOT NULL,
    -- A fixed sentence, never a resolver's or socket's own words.
    error        text,
    -- The first bytes of the answer, for the admin looking into a failure.
    response_body text
);

CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
