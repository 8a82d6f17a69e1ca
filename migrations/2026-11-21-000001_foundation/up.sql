-- Staff, their sessions and API keys, and the CRM records sender matching needs.
-- Ids are UUIDv7 made by the application, so ordering by id is ordering by creation.

CREATE TABLE staff (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    email            text NOT NULL,
    phone            text,
    phone_normalized text,
    password_hash    text NOT NULL,
    is_active        boolean NOT NULL DEFAULT true,
    permissions      text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));
CREATE INDEX staff_phone_normalized_idx ON staff (phone_normalized);

-- Opaque refresh tokens, stored as SHA-256 digests. Each login starts a family;
-- each refresh uses one token and issues the next in the same family.
CREATE TABLE refresh_tokens (
    id         uuid PRIMARY KEY,
    family_id  uuid NOT NULL,
    staff_id   uuid NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    prefix       text NOT NULL,
    secret_hash  bytea NOT NULL UNIQUE,
    permissions  text[] NOT NULL,
    created_by   uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- One row per failed login, keyed by account and by client address.
CREATE TABLE login_failures (
    id           bigserial PRIMARY KEY,
    throttle_key text NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key_idx ON login_failures (throttle_key, failed_at);

CREATE TABLE lead_statuses (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    position   integer NOT NULL DEFAULT 0,
    color      text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX lead_statuses_name_key ON lead_statuses (lower(name));

CREATE TABLE lead_sources (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX lead_sources_name_key ON lead_sources (lower(name));

CREATE TABLE leads (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    phone             text,
    phone_normalized  text,
    email             text,
    status_id         uuid REFERENCES lead_statuses (id) ON DELETE RESTRICT,
    source_id         uuid REFERENCES lead_sources (id) ON DELETE RESTRICT,
    assigned_staff_id uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leads_phone_normalized_idx ON leads (phone_normalized);
CREATE INDEX leads_status_idx ON leads (status_id, id);
CREATE INDEX leads_assigned_idx ON leads (assigned_staff_id, id);

CREATE TABLE lead_notes (
    id         uuid PRIMARY KEY,
    lead_id    uuid NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    body       text NOT NULL,
    created_by uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_notes_lead_idx ON lead_notes (lead_id, id);

CREATE TABLE contacts (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    phone            text,
    phone_normalized text,
    email            text,
    company          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_phone_normalized_idx ON contacts (phone_normalized);
