ALTER TABLE templates
    DROP COLUMN locked_at,
    DROP COLUMN quality_updated_at,
    DROP COLUMN quality_score;
DROP TABLE consent_history;
DROP TABLE marketing_consent;
DROP TABLE provider_errors;
