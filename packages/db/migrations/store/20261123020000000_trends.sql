-- Up Migration

-- The trends service's sales facts and windows (services/trends).

-- POS transactions seen (deduplication of retried copies; originals for post-voids).
CREATE TABLE sales_transactions (
  transaction_id  uuid        PRIMARY KEY,
  type            text        NOT NULL,
  training        boolean     NOT NULL,
  business_day    date        NOT NULL,
  occurred_at     timestamptz NOT NULL,
  terminal_id     text        NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- The lines that count (SALE and RETURN, not voided, not training), signed:
-- a return's units and money are negative, so sums are net of returns.
CREATE TABLE sales_lines (
  transaction_id uuid          NOT NULL,
  line_number    integer       NOT NULL,
  sku            text          NOT NULL,
  category       text          NOT NULL,
  units          numeric(16,3) NOT NULL,
  gross          bigint        NOT NULL,
  discount       bigint        NOT NULL,
  net            bigint        NOT NULL,
  tax            bigint        NOT NULL,
  PRIMARY KEY (transaction_id, line_number)
);

-- Tenders of those transactions, net of change, signed like the lines.
CREATE TABLE sales_tenders (
  transaction_id uuid    NOT NULL,
  position       integer NOT NULL,
  type           text    NOT NULL,
  amount         bigint  NOT NULL,
  PRIMARY KEY (transaction_id, position)
);

-- Post-voids, one per original; applied_at is NULL while the original has not arrived.
CREATE TABLE sales_voids (
  original_transaction_id uuid        PRIMARY KEY,
  void_transaction_id     uuid        NOT NULL,
  received_at             timestamptz NOT NULL DEFAULT now(),
  applied_at              timestamptz
);
CREATE INDEX sales_voids_pending ON sales_voids (original_transaction_id) WHERE applied_at IS NULL;

-- Windows: 5-minute and hourly windows of occurredAt in the store's time zone
-- (window_start is local wall-clock time), and business days. Figures are net
-- of returns; revision counts the restatements (late data, voids).
CREATE TABLE sales_aggregates (
  granularity    text          NOT NULL CHECK (granularity IN ('5m', '1h', 'day')),
  dimension      text          NOT NULL CHECK (dimension IN ('store', 'sku', 'category', 'terminal', 'tender')),
  member         text          COLLATE "C" NOT NULL,
  window_start   timestamp     NOT NULL,
  units          numeric(18,3) NOT NULL DEFAULT 0,
  gross          bigint        NOT NULL DEFAULT 0,
  discounts      bigint        NOT NULL DEFAULT 0,
  net            bigint        NOT NULL DEFAULT 0,
  tax            bigint        NOT NULL DEFAULT 0,
  transactions   integer       NOT NULL DEFAULT 0,
  items          numeric(18,3) NOT NULL DEFAULT 0,
  returns        integer       NOT NULL DEFAULT 0,
  returns_units  numeric(18,3) NOT NULL DEFAULT 0,
  returns_amount bigint        NOT NULL DEFAULT 0,
  revision       integer       NOT NULL DEFAULT 1,
  -- The highest revision the broker acknowledged on sales.aggregates.v1.
  published_revision integer   NOT NULL DEFAULT 0,
  updated_at     timestamptz   NOT NULL DEFAULT now(),
  PRIMARY KEY (granularity, dimension, member, window_start)
) WITH (fillfactor = 70);
-- Today's windows are updated by every batch: no index covers a column that
-- changes, and pages keep room, so those updates stay HOT (no index churn).
-- Time series and top sellers read a granularity and dimension over a time range.
CREATE INDEX sales_aggregates_time ON sales_aggregates (granularity, dimension, window_start);

-- Windows restated since they were last published. The windows are their own
-- outbox: the publisher sends each listed window at its latest revision and
-- drops it from here once the broker acknowledged that revision, so a window
-- restated ten times between two rounds is published once.
CREATE TABLE sales_aggregates_unpublished (
  granularity  text      NOT NULL,
  dimension    text      NOT NULL,
  member       text      COLLATE "C" NOT NULL,
  window_start timestamp NOT NULL,
  PRIMARY KEY (granularity, dimension, member, window_start)
);

-- Anomaly detection: hours already evaluated, and what was found.
CREATE TABLE sales_anomaly_hours (
  window_start timestamp   PRIMARY KEY,
  evaluated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE sales_anomalies (
  anomaly_id       text             PRIMARY KEY,
  kind             text             NOT NULL,
  member           text             NOT NULL,
  window_start     timestamptz      NOT NULL,
  observed         double precision NOT NULL,
  baseline_median  double precision NOT NULL,
  baseline_spread  double precision NOT NULL,
  score            double precision NOT NULL,
  direction        text             NOT NULL,
  baseline_windows integer          NOT NULL,
  detected_at      timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX sales_anomalies_time ON sales_anomalies (window_start DESC);

-- Down Migration
DROP TABLE sales_anomalies;
DROP TABLE sales_anomaly_hours;
DROP TABLE sales_aggregates_unpublished;
DROP TABLE sales_aggregates;
DROP TABLE sales_voids;
DROP TABLE sales_tenders;
DROP TABLE sales_lines;
DROP TABLE sales_transactions;
