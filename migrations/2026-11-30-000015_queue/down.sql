DROP INDEX jobs_ordering_key_active_idx;
ALTER TABLE jobs DROP COLUMN ordering_key;
ALTER TABLE jobs DROP COLUMN claim_token;
