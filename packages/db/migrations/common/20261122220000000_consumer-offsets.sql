-- Up Migration
-- Consumers keep their Kafka position here, written in the same database
-- transaction as their effects, so a crash between effect and commit replays
-- harmlessly (ARCHITECTURE.md invariant 2). Kafka's own committed offset
-- trails this one and is only a hint of where to fetch from.
CREATE TABLE consumer_offsets (
  group_id    text        NOT NULL,
  topic       text        NOT NULL,
  partition   integer     NOT NULL CHECK (partition >= 0),
  next_offset bigint      NOT NULL CHECK (next_offset >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);

-- Down Migration
DROP TABLE consumer_offsets;
