DELETE FROM webhook_events e
WHERE NOT EXISTS (SELECT 1 FROM connections c WHERE c.id = e.connection_id);
ALTER TABLE webhook_events
    ADD CONSTRAINT webhook_events_connection_id_fkey
    FOREIGN KEY (connection_id) REFERENCES connections (id) ON DELETE CASCADE;
