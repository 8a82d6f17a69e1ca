UPDATE messages SET status = 'read' WHERE status = 'played';
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed'));
ALTER TABLE templates
    DROP COLUMN locked_at,
    DROP COLUMN quality_updated_at,
    DROP COLUMN quality_score;
DROP TABLE consent_history;
DROP TABLE marketing_consent;
DROP TABLE provider_errors;
