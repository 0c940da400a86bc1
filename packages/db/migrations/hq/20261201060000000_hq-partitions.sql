-- Up Migration

-- HQ's database grows predictably (issue 17 item 4, docs/hq-storage.md).
--
-- hq_transactions and hq_sales_aggregates are split into monthly range
-- partitions, so that dropping a month past HQ_RETENTION_MONTHS is a DROP
-- TABLE of its partition, never a big DELETE. Native declarative
-- partitioning: no extension (pg_partman) needed.
--
-- * hq_transactions is partitioned by business_day. Its key becomes
--   (store_id, business_day, transaction_id): a key of a partitioned table
--   must hold the partition key. Deduplication stays a database invariant:
--   a transaction is unique per store, business day and transaction id; the
--   business day is part of the transaction's own document, so every copy of
--   one transaction (a re-sent batch, a replay) carries the same day.
-- * hq_sales_aggregates is partitioned by window_start, which is already in
--   its key (business_day is NULL for 5-minute and hourly windows, and a
--   range partition takes no NULL). Bounds are UTC month starts: a day
--   window is its store's local midnight, so the window of the 1st of a month
--   at a store east of UTC lies in the previous month's partition (a day of
--   slack at the month's edge, see docs/hq-storage.md). The key is unchanged.
--
-- Each table gets a DEFAULT partition: a row whose month has no partition
-- yet (a far-future day from a wrong terminal clock, a day older than the
-- oldest partition) is still accepted, never refused. hq_maintain_partitions
-- moves such rows into their month's partition when it creates it.

-- Creates the partition of `parent` for the month that starts at `month`
-- if it does not exist, moving the rows the DEFAULT partition holds for that
-- month into it first (a partition cannot be created over rows the default
-- holds). Returns whether it created one. Partitions are named
-- <parent>_pYYYYMM; hq_maintain_partitions finds them by that name.
CREATE FUNCTION hq_create_month_partition(parent text, month date) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  part text := parent || '_p' || to_char(month, 'YYYYMM');
  key text;
  lo text;
  hi text;
BEGIN
  IF month <> date_trunc('month', month)::date THEN
    RAISE EXCEPTION 'a month partition starts on the 1st, not %', month USING ERRCODE = '22023';
  END IF;
  IF parent = 'hq_transactions' THEN
    key := 'business_day';
    lo := quote_literal(month::text);
    hi := quote_literal((month + interval '1 month')::date::text);
  ELSIF parent = 'hq_sales_aggregates' THEN
    key := 'window_start';
    lo := quote_literal(month::text || ' 00:00:00+00');
    hi := quote_literal((month + interval '1 month')::date::text || ' 00:00:00+00');
  ELSE
    RAISE EXCEPTION 'no monthly partitions for table %', parent USING ERRCODE = '22023';
  END IF;
  IF to_regclass('public.' || part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
  EXECUTE format('WITH moved AS (DELETE FROM public.%I WHERE %I >= %s AND %I < %s RETURNING *) INSERT INTO public.%I SELECT * FROM moved',
    parent || '_default', key, lo, key, hi, part);
  -- Attaching builds the partition's copies of the parent's indexes (its key).
  EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION public.%I FOR VALUES FROM (%s) TO (%s)', parent, part, lo, hi);
  RETURN true;
END
$$;
REVOKE ALL ON FUNCTION hq_create_month_partition(text, date) FROM PUBLIC;

-- HQ's storage upkeep (services/hq/src/storage.ts calls it, under the
-- hqStorage advisory lock, so one HQ process does it at a time): creates the
-- partitions of the month of `today` and of the `months_ahead` months after
-- it, and, when `retention_months` is given, drops every partition that
-- ended before the first day of the month `retention_months` months before
-- today's (the current month and that many full months before it are kept),
-- and deletes what the DEFAULT partitions hold from before that day. Returns
-- what it did, one row per partition. It runs as the owner (SECURITY
-- DEFINER): HQ's role has DML only and may not create or drop tables; this is
-- the one narrow way it can.
CREATE FUNCTION hq_maintain_partitions(months_ahead integer, retention_months integer, today date DEFAULT current_date)
RETURNS TABLE (action text, partition text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET lock_timeout = '10s' AS $$
DECLARE
  parent text;
  first_month date := date_trunc('month', today)::date;
  cutoff date;
  m date;
  part record;
BEGIN
  IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
    RAISE EXCEPTION 'months_ahead must be 0 to 120, not %', months_ahead USING ERRCODE = '22023';
  END IF;
  IF retention_months IS NOT NULL AND (retention_months < 1 OR retention_months > 1200) THEN
    RAISE EXCEPTION 'retention_months must be 1 to 1200 (or NULL: keep everything), not %', retention_months USING ERRCODE = '22023';
  END IF;
  cutoff := CASE WHEN retention_months IS NULL THEN NULL ELSE (first_month - make_interval(months => retention_months))::date END;
  FOREACH parent IN ARRAY ARRAY['hq_transactions', 'hq_sales_aggregates'] LOOP
    FOR i IN 0..months_ahead LOOP
      m := (first_month + make_interval(months => i))::date;
      IF hq_create_month_partition(parent, m) THEN
        action := 'created';
        partition := parent || '_p' || to_char(m, 'YYYYMM');
        RETURN NEXT;
      END IF;
    END LOOP;
    IF cutoff IS NOT NULL THEN
      FOR part IN
        SELECT c.relname, to_date(substring(c.relname FROM '_p([0-9]{6})$'), 'YYYYMM') AS month
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = ('public.' || parent)::regclass AND c.relname ~ ('^' || parent || '_p[0-9]{6}$')
        ORDER BY 2
      LOOP
        IF (part.month + interval '1 month')::date <= cutoff THEN
          EXECUTE format('DROP TABLE public.%I', part.relname);
          action := 'dropped';
          partition := part.relname;
          RETURN NEXT;
        END IF;
      END LOOP;
      EXECUTE format('DELETE FROM public.%I WHERE %I < %L', parent || '_default',
        CASE parent WHEN 'hq_transactions' THEN 'business_day' ELSE 'window_start' END,
        CASE parent WHEN 'hq_transactions' THEN cutoff::text ELSE cutoff::text || ' 00:00:00+00' END);
    END IF;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION hq_maintain_partitions(integer, integer, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hq_maintain_partitions(integer, integer, date) TO tillstream_hq;

-- Converts one table with its data: a partitioned copy of its columns (same
-- order, defaults and checks), its DEFAULT partition and a partition for
-- every month its rows span, the rows moved, the names swapped, and the
-- privileges the old table had (whatever earlier migrations granted, to
-- whichever roles) given to the new one. Used only here, then dropped.
CREATE FUNCTION pg_temp.hq_partition_table(parent text, key text, month_of text, pk text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  grant_row record;
  m date;
BEGIN
  EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (%I)',
    parent || '_partitioned', parent, key);
  EXECUTE format('ALTER TABLE public.%I ADD PRIMARY KEY (%s)', parent || '_partitioned', pk);
  EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I DEFAULT', parent || '_default', parent || '_partitioned');
  EXECUTE format('ALTER TABLE public.%I RENAME TO %I', parent, parent || '_unpartitioned');
  EXECUTE format('ALTER TABLE public.%I RENAME TO %I', parent || '_partitioned', parent);
  -- One partition per month the rows span, and the current month.
  FOR m IN EXECUTE format('SELECT DISTINCT %s FROM public.%I UNION SELECT date_trunc(''month'', current_date)::date', month_of, parent || '_unpartitioned')
  LOOP
    PERFORM hq_create_month_partition(parent, m);
  END LOOP;
  EXECUTE format('INSERT INTO public.%I SELECT * FROM public.%I', parent, parent || '_unpartitioned');
  FOR grant_row IN
    SELECT pg_get_userbyid(a.grantee) AS grantee, string_agg(DISTINCT a.privilege_type, ', ') AS privileges
    FROM pg_class c, aclexplode(c.relacl) a
    WHERE c.oid = ('public.' || parent || '_unpartitioned')::regclass AND a.grantee <> c.relowner AND a.grantee <> 0
    GROUP BY a.grantee
  LOOP
    EXECUTE format('GRANT %s ON public.%I TO %I', grant_row.privileges, parent, grant_row.grantee);
  END LOOP;
  EXECUTE format('DROP TABLE public.%I', parent || '_unpartitioned');
  EXECUTE format('ALTER INDEX public.%I RENAME TO %I', parent || '_partitioned_pkey', parent || '_pkey');
END
$$;

-- The index on (store_id, business_day) is the new key's prefix.
DROP INDEX hq_transactions_day;
SELECT pg_temp.hq_partition_table('hq_transactions', 'business_day', 'date_trunc(''month'', business_day::timestamp)::date',
  'store_id, business_day, transaction_id');
-- Aggregates: the UTC month of each window, as the partition bounds are.
ALTER INDEX hq_sales_aggregates_day RENAME TO hq_sales_aggregates_day_unpartitioned;
SELECT pg_temp.hq_partition_table('hq_sales_aggregates', 'window_start', 'date_trunc(''month'', window_start AT TIME ZONE ''UTC'')::date',
  'store_id, granularity, window_start, dimension, member');
CREATE INDEX hq_sales_aggregates_day ON hq_sales_aggregates (granularity, dimension, business_day) WHERE granularity = 'day';
DROP FUNCTION pg_temp.hq_partition_table(text, text, text, text);

-- The months ahead exist from the start (HQ's upkeep keeps them coming).
SELECT count(*) FROM hq_maintain_partitions(3, NULL);

-- Pruning applied batches by age (HQ_BATCH_RETENTION_DAYS) and answered
-- replay requests: the scans the upkeep's DELETEs use.
CREATE INDEX hq_batches_applied ON hq_batches (applied_at);
CREATE INDEX hq_replay_requests_answered ON hq_replay_requests (answered_at) WHERE answered_at IS NOT NULL;
CREATE INDEX hq_inventory_alerts_at ON hq_inventory_alerts (at);

-- Down Migration

DROP INDEX hq_inventory_alerts_at;
DROP INDEX hq_replay_requests_answered;
DROP INDEX hq_batches_applied;
DROP FUNCTION hq_maintain_partitions(integer, integer, date);
-- Back to plain tables, with their data and grants.
CREATE TABLE hq_transactions_plain (LIKE hq_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO hq_transactions_plain SELECT * FROM hq_transactions;
DROP TABLE hq_transactions;
ALTER TABLE hq_transactions_plain RENAME TO hq_transactions;
ALTER TABLE hq_transactions ADD PRIMARY KEY (store_id, transaction_id);
CREATE INDEX hq_transactions_day ON hq_transactions (store_id, business_day);
CREATE TABLE hq_sales_aggregates_plain (LIKE hq_sales_aggregates INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO hq_sales_aggregates_plain SELECT * FROM hq_sales_aggregates;
DROP TABLE hq_sales_aggregates;
ALTER TABLE hq_sales_aggregates_plain RENAME TO hq_sales_aggregates;
ALTER TABLE hq_sales_aggregates ADD PRIMARY KEY (store_id, granularity, window_start, dimension, member);
CREATE INDEX hq_sales_aggregates_day ON hq_sales_aggregates (granularity, dimension, business_day) WHERE granularity = 'day';
GRANT SELECT, INSERT, UPDATE, DELETE ON hq_transactions, hq_sales_aggregates TO tillstream_hq;
DROP FUNCTION hq_create_month_partition(text, date);
