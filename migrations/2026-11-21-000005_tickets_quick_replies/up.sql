-- Support tickets, which staff open by hand (often from a conversation, seed
-- 001), and quick replies: canned answers with `{{variables}}` that agents
-- insert in the inbox.

CREATE TABLE tickets (
    id              uuid PRIMARY KEY,
    subject         text NOT NULL,
    description     text,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority        text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    assigned_to     uuid REFERENCES staff (id) ON DELETE SET NULL,
    -- Where the ticket came from and who it is about; a ticket outlives them.
    conversation_id uuid REFERENCES conversations (id) ON DELETE SET NULL,
    lead_id         uuid REFERENCES leads (id) ON DELETE SET NULL,
    contact_id      uuid REFERENCES contacts (id) ON DELETE SET NULL,
    created_by      uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- One per list filter, each ending in `id` for the newest-first keyset order.
CREATE INDEX tickets_status_idx ON tickets (status, id);
CREATE INDEX tickets_priority_idx ON tickets (priority, id);
CREATE INDEX tickets_assigned_idx ON tickets (assigned_to, id);
CREATE INDEX tickets_conversation_idx ON tickets (conversation_id, id);
CREATE INDEX tickets_lead_idx ON tickets (lead_id, id);
CREATE INDEX tickets_contact_idx ON tickets (contact_id, id);

CREATE TABLE quick_replies (
    id         uuid PRIMARY KEY,
    -- What an agent types to pick it, such as `/hello`.
    shortcut   text NOT NULL,
    title      text,
    body       text NOT NULL,
    created_by uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX quick_replies_shortcut_key ON quick_replies (lower(shortcut));
