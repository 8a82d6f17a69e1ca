-- Audiences (issue 10): the WhatsApp contacts marketing builds lists from, their
-- static groups, saved segments, and the blocklist of numbers that get nothing.
-- Marketing consent itself stays per phone in `marketing_consent` (000012): a
-- contact's consent is read through its normalised phone, so a STOP from any
-- conversation reaches every record that shares the number.

CREATE TABLE whatsapp_contacts (
    id               uuid PRIMARY KEY,
    name             text,
    -- As the user or the CSV wrote it, and as E.164 digits (unique: one
    -- WhatsApp identity is one contact).
    phone            text NOT NULL,
    phone_normalized text NOT NULL UNIQUE,
    language         text,
    -- An IANA name; derived from the phone's country when not given.
    time_zone        text NOT NULL,
    labels           text[] NOT NULL DEFAULT '{}',
    -- Template variables: an object of string values.
    custom_fields    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    opt_in_status    text NOT NULL DEFAULT 'unknown'
                     CHECK (opt_in_status IN ('opted_in', 'not_opted_in', 'unknown')),
    opt_in_source    text,
    opt_in_at        timestamptz,
    created_by       uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX whatsapp_contacts_labels_idx ON whatsapp_contacts USING gin (labels);
CREATE INDEX whatsapp_contacts_search_idx ON whatsapp_contacts
    USING gin ((coalesce(name, '') || ' ' || phone_normalized) gin_trgm_ops);

-- Named static lists; a contact may be in many.
CREATE TABLE whatsapp_groups (
    id           uuid PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    description  text,
    -- Kept by the trigger below, so lists of groups never count members.
    member_count integer NOT NULL DEFAULT 0,
    created_by   uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE whatsapp_group_members (
    group_id   uuid NOT NULL REFERENCES whatsapp_groups (id) ON DELETE CASCADE,
    contact_id uuid NOT NULL REFERENCES whatsapp_contacts (id) ON DELETE CASCADE,
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, contact_id)
);
CREATE INDEX whatsapp_group_members_contact_idx ON whatsapp_group_members (contact_id);

CREATE FUNCTION whatsapp_group_members_count() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE whatsapp_groups SET member_count = member_count + 1 WHERE id = NEW.group_id;
    ELSE
        UPDATE whatsapp_groups SET member_count = member_count - 1 WHERE id = OLD.group_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER whatsapp_group_members_count
    AFTER INSERT OR DELETE ON whatsapp_group_members
    FOR EACH ROW EXECUTE FUNCTION whatsapp_group_members_count();

-- A saved filter over leads, contacts or WhatsApp contacts, evaluated when used.
CREATE TABLE segments (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    target     text NOT NULL CHECK (target IN ('leads', 'contacts', 'whatsapp_contacts')),
    filter     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(filter) = 'object'),
    created_by uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Numbers that get nothing at all, not even service replies.
CREATE TABLE blocklist (
    id         uuid PRIMARY KEY,
    phone      text NOT NULL UNIQUE,
    reason     text,
    created_by uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The consent history is the audit trail of everything that decides whether a
-- phone may be sent to: who changed it (a staff member; none for the customer
-- or the provider), and blocklist entries added and removed as well.
ALTER TABLE consent_history ADD COLUMN changed_by uuid REFERENCES staff (id) ON DELETE SET NULL;
ALTER TABLE consent_history DROP CONSTRAINT consent_history_state_check;
ALTER TABLE consent_history ADD CONSTRAINT consent_history_state_check
    CHECK (state IN ('subscribed', 'opted_out', 'blocked', 'unblocked'));
