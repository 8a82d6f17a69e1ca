DROP INDEX refresh_tokens_revoked_family_idx;
ALTER TABLE api_keys DROP COLUMN expires_at;
