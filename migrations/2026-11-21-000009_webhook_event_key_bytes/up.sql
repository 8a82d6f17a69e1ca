-- The body's SHA-256 as its 32 bytes rather than 64 hex characters: the
-- unique (provider, event_key) index takes a random insert per webhook, and
-- halving its keys makes it smaller and cheaper to search.
ALTER TABLE webhook_events ALTER COLUMN event_key TYPE bytea USING decode(event_key, 'hex');
