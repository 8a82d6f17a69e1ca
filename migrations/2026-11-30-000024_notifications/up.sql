-- CRM-event template notifications (issue 12, items 1-3): the events that
-- come in (our own lead/contact/ticket writes, and the host CRM's through
-- POST /api/v1/events), the mappings from an event type to a template, and
-- the log of every notification a mapping produced.

-- The durable outbox of events in: written in the transaction of the change
-- (or of the API call), processed by a job. Unique on (source, key), so the
-- same event id never acts twice.
CREATE TABLE crm_events (
    id           uuid PRIMARY KEY,
    -- `api`: POST /api/v1/events, `key` is the caller's id; `internal`: our
    -- own writes, `key` is `<type>:<record id>`.
    source       text NOT NULL CHECK (source IN ('api', 'internal')),
    key          text NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    -- `json`, not `jsonb`: kept as the caller wrote it. jsonb rewrites numbers
    -- (1e308 as 309 digits) into text that serde_json may not read back.
    data         json NOT NULL CHECK (json_typeof(data) = 'object'),
    -- What later events may supersede (`invoice:<number>`).
    subject      text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    UNIQUE (source, key)
);
CREATE INDEX crm_events_subject_idx ON crm_events (subject, type) WHERE subject IS NOT NULL;

CREATE TABLE notification_mappings (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    event_type        text NOT NULL,
    number_id         uuid NOT NULL REFERENCES numbers (id) ON DELETE CASCADE,
    template_name     text NOT NULL,
    template_language text NOT NULL,
    send_to           jsonb NOT NULL,
    parameters        jsonb NOT NULL,
    condition         jsonb,
    delay_minutes     integer NOT NULL DEFAULT 0 CHECK (delay_minutes >= 0),
    reminder          jsonb,
    active            boolean NOT NULL DEFAULT true,
    -- Set (by the trigger below) when the template stops being sendable, so
    -- the mapping is shown as broken instead of silently skipped.
    problem_code      text,
    problem_detail    text,
    flagged_at        timestamptz,
    created_by        uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_mappings_event_type_idx ON notification_mappings (event_type) WHERE active;
CREATE INDEX notification_mappings_template_idx ON notification_mappings (template_name, template_language);

-- One row per (event, mapping): scheduled, sent (with its message), skipped
-- or cancelled, with the reason.
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    event_id    uuid NOT NULL REFERENCES crm_events (id) ON DELETE CASCADE,
    mapping_id  uuid REFERENCES notification_mappings (id) ON DELETE SET NULL,
    event_type  text NOT NULL,
    subject     text,
    phone       text,
    -- The rendered template message (name, language, parameters).
    parameters  jsonb,
    message_id  uuid REFERENCES messages (id) ON DELETE SET NULL,
    outcome     text NOT NULL CHECK (outcome IN ('scheduled', 'sent', 'skipped', 'cancelled')),
    reason      text,
    detail      text,
    send_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, mapping_id)
);
CREATE INDEX notifications_mapping_idx ON notifications (mapping_id, id);
CREATE INDEX notifications_event_type_idx ON notifications (event_type, id);
CREATE INDEX notifications_outcome_idx ON notifications (outcome, id);
CREATE INDEX notifications_scheduled_subject_idx ON notifications (subject) WHERE outcome = 'scheduled';

-- A mapped template that leaves APPROVED (a status webhook, a sync, an admin's
-- edit) or is deleted flags its mappings; approved again, they are cleared.
CREATE FUNCTION notification_mappings_flag() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE notification_mappings AS m
           SET problem_code = 'template_not_found',
               problem_detail = format('the template %s (%s) was deleted', OLD.name, OLD.language),
               flagged_at = now(), updated_at = now()
          FROM numbers AS n
         WHERE n.id = m.number_id AND n.connection_id = OLD.connection_id
           AND m.template_name = OLD.name AND m.template_language = OLD.language;
        RETURN OLD;
    END IF;
    IF NEW.status = 'APPROVED' THEN
        UPDATE notification_mappings AS m
           SET problem_code = NULL, problem_detail = NULL, flagged_at = NULL, updated_at = now()
          FROM numbers AS n
         WHERE n.id = m.number_id AND n.connection_id = NEW.connection_id
           AND m.template_name = NEW.name AND m.template_language = NEW.language
           AND m.problem_code IS NOT NULL;
    ELSE
        UPDATE notification_mappings AS m
           SET problem_code = 'template_not_approved',
               problem_detail = format('the template %s (%s) is %s: only APPROVED templates are sent',
                                       NEW.name, NEW.language, NEW.status),
               flagged_at = now(), updated_at = now()
          FROM numbers AS n
         WHERE n.id = m.number_id AND n.connection_id = NEW.connection_id
           AND m.template_name = NEW.name AND m.template_language = NEW.language
           AND m.problem_detail IS DISTINCT FROM format('the template %s (%s) is %s: only APPROVED templates are sent',
                                                        NEW.name, NEW.language, NEW.status);
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER templates_flag_notification_mappings
    AFTER INSERT OR UPDATE OF status OR DELETE ON templates
    FOR EACH ROW EXECUTE FUNCTION notification_mappings_flag();
