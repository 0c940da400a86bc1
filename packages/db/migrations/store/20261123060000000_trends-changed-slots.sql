-- Up Migration

-- Which windows wait to be published, listed per slot (granularity,
-- dimension, window start) instead of per window. A catch-up touches about
-- 1.5 windows per line, almost every one a new row of its own, and listing
-- each one again was a quarter of the trends service's row writes; the
-- slots a batch touches are a few hundred. The publisher sends the windows
-- of a listed slot whose revision is above the one the broker acknowledged,
-- and unlists the slot only if `changes` is still what it read: a batch that
-- restated the slot meanwhile has raised it (and holds the row until it
-- commits), so its windows are published in the next round.
CREATE TABLE sales_aggregate_changes (
  granularity  text      NOT NULL,
  dimension    text      NOT NULL,
  window_start timestamp NOT NULL,
  changes      bigint    NOT NULL DEFAULT 1,
  PRIMARY KEY (granularity, dimension, window_start)
);
INSERT INTO sales_aggregate_changes (granularity, dimension, window_start)
  SELECT DISTINCT granularity, dimension, window_start FROM sales_aggregates_unpublished;
DROP TABLE sales_aggregates_unpublished;

-- Down Migration
CREATE TABLE sales_aggregates_unpublished (
  granularity  text      NOT NULL,
  dimension    text      NOT NULL,
  member       text      COLLATE "C" NOT NULL,
  window_start timestamp NOT NULL,
  PRIMARY KEY (granularity, dimension, member, window_start)
);
INSERT INTO sales_aggregates_unpublished
  SELECT a.granularity, a.dimension, a.member, a.window_start
  FROM sales_aggregate_changes c JOIN sales_aggregates a USING (granularity, dimension, window_start)
  WHERE a.revision > a.published_revision;
DROP TABLE sales_aggregate_changes;
