-- Up Migration

-- HQ authenticates its viewers and admins (tokens, dashboard sessions) and
-- signs them in and out; `tillstream user add|revoke` writes credentials as
-- the owner.
GRANT SELECT ON user_credentials TO tillstream_hq;
GRANT SELECT, INSERT, UPDATE ON user_sessions TO tillstream_hq;

-- Down Migration
REVOKE ALL ON user_credentials, user_sessions FROM tillstream_hq;
