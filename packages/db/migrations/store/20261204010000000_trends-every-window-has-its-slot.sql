-- Up Migration

-- Every slot (granularity, dimension, window start) that has windows has its
-- row in sales_aggregate_changes (issue 19). The consumer now inserts the
-- windows of a slot its own statement has just created (its count is 1
-- after the slot's upsert) as plain rows, without ON CONFLICT: a catch-up
-- mostly books new slots, and the speculative insertion (an index probe
-- before each insert, and a WAL record more per row) made the windows'
-- statement about a third dearer (BENCHMARKS.md). That is right only if a
-- slot without a row has no windows. Until 20261202010000000 (published by
-- slot) the publisher deleted a slot's row once all of its windows were
-- published; those slots get their row back here, published up to the
-- highest count their windows were stamped with (at least 1, where a new
-- slot starts), so none of them is listed or sent again, and a restatement
-- raises the count above it as usual.
INSERT INTO sales_aggregate_changes (granularity, dimension, window_start, changes, published_changes)
  SELECT a.granularity, a.dimension, a.window_start, GREATEST(max(a.slot_change), 1), GREATEST(max(a.slot_change), 1)
  FROM sales_aggregates a
  WHERE NOT EXISTS (SELECT 1 FROM sales_aggregate_changes c
                    WHERE c.granularity = a.granularity AND c.dimension = a.dimension AND c.window_start = a.window_start)
  GROUP BY a.granularity, a.dimension, a.window_start;

-- Down Migration
-- Nothing to undo: the rows added are published slots, as the consumer keeps them.
