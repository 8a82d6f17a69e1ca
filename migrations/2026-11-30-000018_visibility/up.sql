-- A lead note copied from a WhatsApp message names its conversation, so that
-- an agent who may not see that conversation does not read it through the lead.
ALTER TABLE lead_notes
    ADD COLUMN conversation_id uuid REFERENCES conversations (id) ON DELETE SET NULL;

-- Notes copied before this migration: the system wrote them (no author) with a
-- fixed prefix; the lead's conversation is the one they came from (a lead has
-- one per number; the oldest is the best guess when there are several).
UPDATE lead_notes AS n
   SET conversation_id = (
       SELECT c.id FROM conversations AS c
        WHERE c.rel_type = 'lead' AND c.rel_id = n.lead_id
        ORDER BY c.created_at
        LIMIT 1)
 WHERE n.created_by IS NULL AND n.body LIKE 'WhatsApp message: %';
