-- An API key may expire: past `expires_at` it answers 401 `api_key_expired`.
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;

-- Access tokens name their session (the refresh-token family of one login).
-- Every authenticated request asks whether that session was revoked (logout,
-- refresh-token reuse, password change); a family holds up to one token per
-- refresh (thousands over 30 days), so the question is answered by this
-- partial index in one probe instead of by scanning the family's rows.
CREATE INDEX refresh_tokens_revoked_family_idx
    ON refresh_tokens (family_id) WHERE revoked_at IS NOT NULL;
