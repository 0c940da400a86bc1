-- Up Migration
-- The transactional outbox: events a service derives (inventory levels and
-- alerts, sales aggregates, ...) are written here in the same transaction as
-- the state they describe, and published to Kafka after the commit by that
-- service's publisher (packages/kafka/src/outbox.ts), which deletes what the
-- broker acknowledged. A crash between the two re-publishes; nothing is lost.
CREATE TABLE event_outbox (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  publisher  text        NOT NULL,
  topic      text        NOT NULL,
  data       jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_outbox_publisher ON event_outbox (publisher, id);

-- Down Migration
DROP TABLE event_outbox;
