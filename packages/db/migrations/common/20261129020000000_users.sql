-- Up Migration

-- People's credentials (issue 14 item 3): `tillstream user add --role ...`
-- prints a token once; only its SHA-256 is kept. Store roles (store-manager,
-- store-viewer) live in the store's database, HQ roles (hq-viewer, hq-admin)
-- in HQ's. Re-adding a user rotates the token; revoking sets revoked_at.
CREATE TABLE user_credentials (
  token_hash  bytea       PRIMARY KEY,
  name        text        NOT NULL,
  role        text        NOT NULL CHECK (role IN ('store-manager', 'store-viewer', 'hq-viewer', 'hq-admin')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX user_credentials_name ON user_credentials (name);

-- A dashboard sign-in exchanges a token for a session (a cookie); the session
-- is kept server-side (hashed) with its expiry, and dies with its token.
CREATE TABLE user_sessions (
  session_hash bytea       PRIMARY KEY,
  token_hash   bytea       NOT NULL REFERENCES user_credentials (token_hash),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz
);
CREATE INDEX user_sessions_token ON user_sessions (token_hash);

-- Down Migration

DROP TABLE user_sessions;
DROP TABLE user_credentials;
