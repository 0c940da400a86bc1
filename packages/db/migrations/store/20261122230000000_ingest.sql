-- Up Migration

-- Terminal credentials. Only a SHA-256 of each bearer token is kept: the
-- token is printed once by `tillstream terminal add` and cannot be recovered.
CREATE TABLE terminal_credentials (
  token_hash  bytea       PRIMARY KEY,
  store_id    text        NOT NULL,
  terminal_id text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX terminal_credentials_terminal ON terminal_credentials (store_id, terminal_id);

-- Ingest's idempotency journal: one row per transactionId ever accepted.
-- The primary key is what makes "never counted twice" a database invariant:
-- a terminal replaying a month-old backlog gets the original receipt back.
--   pending:   a request claimed the id and is producing it; the claim lapses
--              at claimed_until (a crashed or timed-out attempt is taken over)
--   committed: the broker acknowledged it at (kafka_partition, kafka_offset)
CREATE TABLE ingest_transactions (
  transaction_id  uuid        PRIMARY KEY,
  store_id        text        NOT NULL,
  terminal_id     text        NOT NULL,
  sequence_number bigint      NOT NULL,
  business_day    date        NOT NULL,
  body_hash       bytea       NOT NULL,
  state           text        NOT NULL CHECK (state IN ('pending', 'committed')),
  claimed_until   timestamptz,
  kafka_partition integer,
  kafka_offset    bigint,
  received_at     timestamptz NOT NULL,
  committed_at    timestamptz,
  CHECK (state = 'pending' OR (kafka_partition IS NOT NULL AND kafka_offset IS NOT NULL))
);
CREATE INDEX ingest_transactions_received_at ON ingest_transactions (received_at);

-- Down Migration
DROP TABLE ingest_transactions;
DROP TABLE terminal_credentials;
