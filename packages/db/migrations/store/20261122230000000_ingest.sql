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

-- Ingest's idempotency journal: one row per transactionId the broker
-- acknowledged, with where it landed. The primary key is what makes "same
-- transactionId, same receipt" hold across restarts and for as long as the
-- retention: a terminal replaying a month-old backlog gets the original
-- receipt back, and a different body under a known id is refused.
CREATE TABLE ingest_transactions (
  transaction_id  uuid        PRIMARY KEY,
  store_id        text        NOT NULL,
  terminal_id     text        NOT NULL,
  sequence_number bigint      NOT NULL,
  business_day    date        NOT NULL,
  body_hash       bytea       NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  received_at     timestamptz NOT NULL
);
-- Rows arrive in received_at order, so a BRIN index serves pruning at almost no write cost.
CREATE INDEX ingest_transactions_received_at ON ingest_transactions USING brin (received_at);

-- Down Migration
DROP TABLE ingest_transactions;
DROP TABLE terminal_credentials;
