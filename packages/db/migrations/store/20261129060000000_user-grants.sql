-- Up Migration

-- Who may read people's credentials and sessions (issue 14 item 3; the
-- roles of issue 15 item 2). Every store service authenticates its own
-- callers (the store API forwards a person's token or session cookie to
-- trends and sync, which check it again), and terminals and people are told
-- apart by one lookup, so each reads both credential tables. Only the store
-- API (inventory) signs people in and out, and it issues the store
-- dashboard's own viewer token at start (to read trends and sync for its
-- figures), so it alone writes them; `tillstream user add|revoke` writes as
-- the owner.
GRANT SELECT ON user_credentials, user_sessions, terminal_credentials TO tillstream_ingest, tillstream_inventory, tillstream_trends, tillstream_sync;
GRANT INSERT, UPDATE ON user_credentials, user_sessions TO tillstream_inventory;

-- Down Migration
REVOKE ALL ON user_credentials, user_sessions FROM tillstream_ingest, tillstream_inventory, tillstream_trends, tillstream_sync;
REVOKE SELECT ON terminal_credentials FROM tillstream_inventory, tillstream_trends, tillstream_sync;
