-- Up Migration

-- The inventory service's stock ledger (services/inventory). Quantities are
-- NUMERIC(16,3): weighed goods keep their three decimals exactly.

-- One row per SKU: its current level and settings. on_hand is the sum of the
-- SKU's movements, kept up to date in the same transaction as each movement.
CREATE TABLE inventory_items (
  sku                    text          COLLATE "C" PRIMARY KEY, -- byte order: cursors and lock order agree with the code
  description            text,
  category               text,
  unit_of_measure        text          NOT NULL DEFAULT 'EA',
  on_hand                numeric(16,3) NOT NULL DEFAULT 0,
  -- Alert state with hysteresis (services/inventory/src/alerts.ts).
  state                  text          NOT NULL DEFAULT 'OK' CHECK (state IN ('OK', 'LOW', 'OUT', 'NEGATIVE')),
  reorder_point          numeric(16,3) CHECK (reorder_point >= 0),
  reorder_quantity       numeric(16,3) CHECK (reorder_quantity > 0),
  maximum                numeric(16,3) CHECK (maximum > 0),
  last_movement_id       bigint,
  last_movement_kind     text,
  last_movement_quantity numeric(16,3),
  last_movement_at       timestamptz,
  updated_at             timestamptz   NOT NULL DEFAULT now()
);
-- "What is low / out / negative": only the SKUs that are not OK.
CREATE INDEX inventory_items_attention ON inventory_items (state, sku) WHERE state <> 'OK';

-- Operations booked through the store API (receipts, counts, adjustments,
-- transfers), one per Idempotency-Key: a replay answers with the stored
-- response, a different body under the same key is refused.
CREATE TABLE inventory_operations (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  idempotency_key text        NOT NULL UNIQUE,
  kind            text        NOT NULL,
  body_hash       bytea       NOT NULL,
  reference       text,
  reason          text,
  counterparty    text,
  note            text,
  response        jsonb       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Every stock movement. A POS line moves stock at most once: the unique
-- (transaction_id, line_number) is the database invariant behind
-- "nothing is counted twice" (a post-void's reversals are keyed by the
-- void's own id and the original's line numbers).
CREATE TABLE inventory_movements (
  id             bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku            text          NOT NULL,
  kind           text          NOT NULL,
  quantity       numeric(16,3) NOT NULL,
  transaction_id uuid,
  line_number    integer,
  operation_id   bigint        REFERENCES inventory_operations (id),
  occurred_at    timestamptz   NOT NULL,
  recorded_at    timestamptz   NOT NULL DEFAULT now(),
  CONSTRAINT inventory_movements_pos_line UNIQUE (transaction_id, line_number),
  CHECK ((transaction_id IS NULL) = (line_number IS NULL)),
  CHECK ((transaction_id IS NULL) <> (operation_id IS NULL))
);
CREATE INDEX inventory_movements_sku ON inventory_movements (sku, id DESC);

-- POS transactions the ledger has seen (deduplication of retried copies, and
-- the originals post-voids look up).
CREATE TABLE inventory_pos_transactions (
  transaction_id  uuid        PRIMARY KEY,
  type            text        NOT NULL,
  training        boolean     NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- Post-voids, one per original (a second void of the same sale changes
-- nothing). applied_at stays NULL while the original has not arrived yet: a
-- void can overtake its sale (an offline terminal uploading its backlog).
CREATE TABLE inventory_voids (
  original_transaction_id uuid        PRIMARY KEY,
  void_transaction_id     uuid        NOT NULL,
  occurred_at             timestamptz NOT NULL,
  received_at             timestamptz NOT NULL DEFAULT now(),
  applied_at              timestamptz
);
CREATE INDEX inventory_voids_pending ON inventory_voids (original_transaction_id) WHERE applied_at IS NULL;

-- Down Migration
DROP TABLE inventory_voids;
DROP TABLE inventory_pos_transactions;
DROP TABLE inventory_movements;
DROP TABLE inventory_operations;
DROP TABLE inventory_items;
