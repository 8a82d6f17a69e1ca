-- Bulk campaigns (issue 11): a campaign is what to send (a template with a
-- source for each parameter), to whom (an audience), from which number and
-- when (a schedule); each occurrence of its schedule is a run, whose
-- recipients are materialised once, one row per phone, when it starts.
--
-- A recipient's own state is forward-only: pending -> queued (its message is
-- in the outbox) | skipped (never sent, with the reason) | failed (refused by
-- the outbox or the provider). Delivery after that (sent, delivered, read) is
-- the message's status, which the status webhooks move forward.

-- A number's messaging-limit tier: how many distinct customers it may open
-- business-initiated conversations with in a moving 24 hours. NULL: unlimited.
ALTER TABLE numbers ADD COLUMN daily_recipient_limit integer
    CHECK (daily_recipient_limit IS NULL OR daily_recipient_limit > 0);

CREATE TABLE campaigns (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
    -- Why a campaign is paused: `manual`, or the condition that stopped it.
    pause_reason      text,
    pause_detail      text,
    audience          jsonb NOT NULL CHECK (jsonb_typeof(audience) = 'object'),
    number_id         uuid NOT NULL REFERENCES numbers (id) ON DELETE RESTRICT,
    template_name     text NOT NULL,
    template_language text NOT NULL,
    parameters        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    schedule          jsonb NOT NULL CHECK (jsonb_typeof(schedule) = 'object'),
    quiet_hours       jsonb CHECK (quiet_hours IS NULL OR jsonb_typeof(quiet_hours) = 'object'),
    -- The next occurrence that has no run yet (NULL: none left).
    next_run_at       timestamptz,
    runs_created      integer NOT NULL DEFAULT 0,
    created_by        uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_created_idx ON campaigns (created_at DESC, id DESC);

CREATE TABLE campaign_runs (
    id               uuid PRIMARY KEY,
    campaign_id      uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- 1 for the first occurrence of the schedule, 2 for the next, ...: unique,
    -- so however many workers schedule at once, an occurrence has one run.
    occurrence       integer NOT NULL,
    scheduled_at     timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'scheduled'
                     CHECK (status IN ('scheduled', 'running', 'paused', 'completed', 'cancelled')),
    pause_reason     text,
    pause_detail     text,
    -- Records the audience matched that shared a phone with another (one
    -- recipient per phone).
    duplicates       integer NOT NULL DEFAULT 0,
    started_at       timestamptz,
    completed_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- Only the dispatcher job of the current generation sends for the run: a
    -- start, a resume or a continuation bumps it and queues one dispatcher, so
    -- a run never has two.
    dispatch_generation integer NOT NULL DEFAULT 0,
    UNIQUE (campaign_id, occurrence)
);
CREATE INDEX campaign_runs_active_idx ON campaign_runs (status) WHERE status IN ('running', 'paused');

CREATE TABLE campaign_recipients (
    id          bigserial PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES campaign_runs (id) ON DELETE CASCADE,
    -- Denormalised from the campaign: the daily budget counts per number.
    number_id   uuid NOT NULL,
    -- E.164 digits; NULL when the record had no valid phone (then skipped).
    phone       text,
    rel_type    text NOT NULL,
    rel_id      uuid,
    name        text,
    -- An IANA zone, or NULL: the phone's country's, else the account's.
    time_zone   text,
    -- What the parameters are filled from, as it was when the run started.
    record      jsonb NOT NULL DEFAULT '{}',
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'queued', 'skipped', 'failed')),
    -- skipped: no_phone, invalid_phone, blocked, opted_out, missing_variable,
    -- cancelled; failed: the outbox's refusal or the provider's error code.
    reason      text,
    detail      text,
    -- Not sent before (quiet hours, a provider's per-user limit).
    due_at      timestamptz NOT NULL DEFAULT now(),
    message_id  uuid REFERENCES messages (id) ON DELETE SET NULL,
    queued_at   timestamptz,
    -- Retries the provider's per-user marketing limit (131049) allows: one.
    retries     integer NOT NULL DEFAULT 0,
    UNIQUE (run_id, phone)
);
CREATE INDEX campaign_recipients_due_idx ON campaign_recipients (run_id, due_at, id)
    WHERE status = 'pending';
CREATE INDEX campaign_recipients_run_idx ON campaign_recipients (run_id, id);
CREATE INDEX campaign_recipients_message_idx ON campaign_recipients (message_id)
    WHERE message_id IS NOT NULL;
-- The moving-24 h budget: distinct phones a number was queued to lately.
CREATE INDEX campaign_recipients_budget_idx ON campaign_recipients (number_id, queued_at)
    WHERE queued_at IS NOT NULL;
