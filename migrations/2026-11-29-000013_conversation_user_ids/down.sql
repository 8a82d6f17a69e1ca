-- Conversations with no phone cannot exist before this migration: they go, with
-- their messages.
ALTER TABLE conversations DROP CONSTRAINT conversations_customer_known;
ALTER TABLE conversations DROP CONSTRAINT conversations_number_id_customer_user_id_key;
ALTER TABLE conversations DROP COLUMN customer_username;
ALTER TABLE conversations DROP COLUMN customer_user_id;
DELETE FROM conversations WHERE customer_phone IS NULL;
ALTER TABLE conversations ALTER COLUMN customer_phone SET NOT NULL;
