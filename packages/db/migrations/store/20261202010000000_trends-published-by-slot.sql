-- Up Migration

-- What was published is remembered per slot, not per window (issue 19).
-- Acknowledging a published window used to UPDATE its row's
-- published_revision: after a catch-up, one row update (and its WAL) per
-- window, 1.4 million for a million POS lines, on the table the consumer
-- writes. Now each window carries `slot_change`, the count its slot
-- (sales_aggregate_changes.changes) reached when the window was last
-- restated, and each slot carries `published_changes`, the count up to which
-- all its windows reached the broker. A window is unpublished while its
-- slot_change is above its slot's published_changes; a slot is listed while
-- changes is above published_changes. Acknowledging a round updates its slots
-- (hundreds of rows), never its windows.
--
-- Why a count per slot is safe: a batch raises the slot's count (and holds
-- that row until it commits) before it writes the slot's windows, so counts
-- are given out in commit order per slot. A round that read the slot at
-- count N saw every window stamped N or lower; a batch that commits later
-- stamps N + 1 or more, which stays above the published_changes = N the
-- round records, and is published next round.
--
-- Slot rows now stay (a slot that is published and restated later keeps its
-- count, so its old windows are not sent again); the partial index finds the
-- listed ones.
ALTER TABLE sales_aggregate_changes ADD COLUMN published_changes bigint NOT NULL DEFAULT 0;
ALTER TABLE sales_aggregates ADD COLUMN slot_change bigint NOT NULL DEFAULT 0;
-- Windows waiting now: stamped with their slot's count (every listed slot is unpublished, published_changes 0).
UPDATE sales_aggregates a SET slot_change = c.changes
  FROM sales_aggregate_changes c
  WHERE a.granularity = c.granularity AND a.dimension = c.dimension AND a.window_start = c.window_start AND a.revision > a.published_revision;
ALTER TABLE sales_aggregates DROP COLUMN published_revision;
CREATE INDEX sales_aggregate_changes_listed ON sales_aggregate_changes (granularity, dimension, window_start) WHERE changes > published_changes;

-- Down Migration
DROP INDEX sales_aggregate_changes_listed;
ALTER TABLE sales_aggregates ADD COLUMN published_revision integer NOT NULL DEFAULT 0;
-- Published: every window not waiting in a listed slot.
UPDATE sales_aggregates a SET published_revision = a.revision
  WHERE NOT EXISTS (SELECT 1 FROM sales_aggregate_changes c
                    WHERE a.granularity = c.granularity AND a.dimension = c.dimension AND a.window_start = c.window_start
                      AND a.slot_change > c.published_changes);
DELETE FROM sales_aggregate_changes WHERE changes <= published_changes;
ALTER TABLE sales_aggregates DROP COLUMN slot_change;
ALTER TABLE sales_aggregate_changes DROP COLUMN published_changes;
