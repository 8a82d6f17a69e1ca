ALTER TABLE lead_notes DROP COLUMN conversation_id;
