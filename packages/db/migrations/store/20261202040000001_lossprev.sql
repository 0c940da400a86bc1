-- Up Migration

-- Loss-prevention signals (issue 18 item 4; services/trends/src/lossprev/).
-- Trends books the POS topic a second time, as its own consumer group
-- ("<group>.lossprev", offsets in consumer_offsets with these rows), into
-- facts per transaction and per counting line; rates and scores are
-- computed from them, so a post-void or an original receipt arriving late
-- simply counts when the period is scored again.

-- One row per transaction (any type, training included), its first copy.
CREATE TABLE lossprev_transactions (
  transaction_id uuid PRIMARY KEY,
  business_day date NOT NULL,
  occurred_at timestamptz NOT NULL,
  operator_id text NOT NULL,
  terminal_id text NOT NULL,
  type text NOT NULL,
  training boolean NOT NULL,
  -- The transaction's grand total (minor units; 0 for NO_SALE and POST_VOID).
  grand bigint NOT NULL,
  -- RETURN and POST_VOID: the original's transactionId as the terminal gave it.
  original_id uuid,
  -- Lines voided inside the transaction, and their extended amounts.
  voided_lines integer NOT NULL,
  voided_amount bigint NOT NULL,
  kafka_partition integer NOT NULL,
  kafka_offset bigint NOT NULL
);
CREATE INDEX lossprev_transactions_day ON lossprev_transactions (business_day);

-- The counting lines (pos-rules countingLines) of sales and returns: what
-- "a refund shortly after a sale of the same item by the same operator" matches.
CREATE TABLE lossprev_lines (
  transaction_id uuid NOT NULL,
  line_number integer NOT NULL,
  type text NOT NULL,
  operator_id text NOT NULL,
  sku text NOT NULL,
  occurred_at timestamptz NOT NULL,
  amount bigint NOT NULL,
  PRIMARY KEY (transaction_id, line_number)
);
CREATE INDEX lossprev_lines_sales ON lossprev_lines (operator_id, sku, occurred_at) WHERE type = 'SALE';

-- Business days with transactions booked since they were last scored. A
-- day is scored when first booked, then at most every
-- LOSSPREV_SCORE_INTERVAL_SECONDS while it keeps changing, and once more as
-- soon as a later day is booked (its final figures): scoring reads 5 weeks
-- of facts, too much to repeat for every small batch of a busy store.
CREATE TABLE lossprev_days (
  business_day date PRIMARY KEY,
  changed_at timestamptz NOT NULL,
  scored_at timestamptz
);

-- Alerts found, once each (alert_id is stable per member, signal, period and comparison).
CREATE TABLE lossprev_alerts (
  alert_id text PRIMARY KEY,
  business_day date NOT NULL,
  dimension text NOT NULL,
  member text NOT NULL,
  detected_at timestamptz NOT NULL,
  alert jsonb NOT NULL
);
CREATE INDEX lossprev_alerts_recent ON lossprev_alerts (business_day DESC, detected_at DESC);

GRANT SELECT, INSERT, UPDATE, DELETE ON lossprev_transactions, lossprev_lines, lossprev_days, lossprev_alerts TO tillstream_trends;

-- Down Migration
DROP TABLE lossprev_alerts;
DROP TABLE lossprev_days;
DROP TABLE lossprev_lines;
DROP TABLE lossprev_transactions;
