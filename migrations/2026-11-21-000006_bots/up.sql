-- Bots, and what they remember per conversation.

CREATE TABLE bots (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    is_active   boolean NOT NULL DEFAULT true,
    priority    integer NOT NULL DEFAULT 0,
    -- The whole bot as the domain defines it (trigger, response, numbers, …).
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bots_active_idx ON bots (priority DESC, id) WHERE is_active;

CREATE TABLE conversation_bots (
    conversation_id uuid PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    -- The engine's memory: paused, the open menu/flow/rating, cooldowns.
    memory          jsonb NOT NULL DEFAULT '{}',
    rating          smallint CHECK (rating BETWEEN 1 AND 5),
    rated_at        timestamptz,
    -- An AI answer in manual mode, for staff to send or not.
    ai_suggestion   text,
    ai_suggested_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
