-- Login attempts are counted in one row per throttle key, updated by an
-- upsert before the password is checked: concurrent guesses serialise on the
-- row, so a burst cannot slip past the limit between a check and a record.
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    throttle_key      text PRIMARY KEY,
    attempts          integer NOT NULL,
    window_started_at timestamptz NOT NULL
);
