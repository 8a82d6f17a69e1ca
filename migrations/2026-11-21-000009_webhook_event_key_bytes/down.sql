ALTER TABLE webhook_events ALTER COLUMN event_key TYPE text USING encode(event_key, 'hex');
