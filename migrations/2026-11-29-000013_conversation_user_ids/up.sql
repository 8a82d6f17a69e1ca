-- Conversations keyed by the customer's identity: their phone, Meta's
-- business-scoped user id (users who adopt a WhatsApp username may come without
-- a phone), or both. One conversation per number and phone, and per number and
-- user id; NULLs are distinct, so many conversations may lack either.
ALTER TABLE conversations ALTER COLUMN customer_phone DROP NOT NULL;
ALTER TABLE conversations ADD COLUMN customer_user_id text;
ALTER TABLE conversations ADD COLUMN customer_username text;
ALTER TABLE conversations
    ADD CONSTRAINT conversations_number_id_customer_user_id_key UNIQUE (number_id, customer_user_id);
ALTER TABLE conversations
    ADD CONSTRAINT conversations_customer_known CHECK (customer_phone IS NOT NULL OR customer_user_id IS NOT NULL);
