-- Up Migration

-- The windows with one index instead of two (issue 19: where a trends line's
-- microseconds go). sales_aggregates had its primary key (granularity,
-- dimension, member, window_start) for the consumer's upsert and a second
-- index (granularity, dimension, window_start) for everything that reads a
-- slot or a time range: the publisher's lookup per slot, anomalies,
-- forecasts, top sellers. A catch-up mostly inserts new windows (1.44M for a
-- million lines), each into both. With the window before the member, the
-- primary key serves the upsert and every one of those reads; 1.5M window
-- rows upserted in batches of 20,000, sorted in the key's order, took 17.6-
-- 18.1 s instead of 26.5-28.8 s (BENCHMARKS.md). A member's time series now
-- scans its range's windows of every member in the index (a week of 5-minute
-- windows at most: MAX_TIMESERIES_POINTS), without visiting their rows, so
-- timeseries() looks each window up by the key instead. Rebuilding the key
-- holds the table exclusively: 1.9 s for a million-line catch-up's 1.44M
-- windows (317 MB) here, so tens of seconds for a busy store's year; the
-- migration runs before the services start.
ALTER TABLE sales_aggregates DROP CONSTRAINT sales_aggregates_pkey, ADD PRIMARY KEY (granularity, dimension, window_start, member);
DROP INDEX sales_aggregates_time;

-- Down Migration
CREATE INDEX sales_aggregates_time ON sales_aggregates (granularity, dimension, window_start);
ALTER TABLE sales_aggregates DROP CONSTRAINT sales_aggregates_pkey, ADD PRIMARY KEY (granularity, dimension, member, window_start);
