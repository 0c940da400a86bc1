-- Up Migration

-- A transaction's counting lines and tenders move onto its own row, as one
-- jsonb value, instead of a row each in sales_lines and sales_tenders. They
-- are read back only when a post-void takes the transaction off, and one row
-- per transaction instead of 1 + lines + tenders is a third of the trends
-- service's row writes during a catch-up (BENCHMARKS.md, trends).
--
-- contribution: {"lines": [[sku, category, units_milli, gross, discount, net, tax], ...],
--                "tenders": [[type, amount], ...]}, signed (a return's are negative);
-- NULL for transactions that count nowhere (training, NO_SALE, POST_VOID).
ALTER TABLE sales_transactions ADD COLUMN contribution jsonb;

UPDATE sales_transactions t SET contribution = jsonb_build_object(
  'lines', COALESCE((SELECT jsonb_agg(jsonb_build_array(l.sku, l.category, (l.units * 1000)::bigint, l.gross, l.discount, l.net, l.tax) ORDER BY l.line_number)
                     FROM sales_lines l WHERE l.transaction_id = t.transaction_id), '[]'::jsonb),
  'tenders', COALESCE((SELECT jsonb_agg(jsonb_build_array(x.type, x.amount) ORDER BY x.position)
                       FROM sales_tenders x WHERE x.transaction_id = t.transaction_id), '[]'::jsonb))
WHERE t.type IN ('SALE', 'RETURN') AND NOT t.training;

DROP TABLE sales_lines;
DROP TABLE sales_tenders;

-- Down Migration
-- (line numbers come back as positions among the counting lines)
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
CREATE TABLE sales_tenders (
  transaction_id uuid    NOT NULL,
  position       integer NOT NULL,
  type           text    NOT NULL,
  amount         bigint  NOT NULL,
  PRIMARY KEY (transaction_id, position)
);
INSERT INTO sales_lines
  SELECT t.transaction_id, l.n::int, l.v->>0, l.v->>1, ((l.v->>2)::bigint / 1000.0)::numeric(16,3), (l.v->>3)::bigint, (l.v->>4)::bigint, (l.v->>5)::bigint, (l.v->>6)::bigint
  FROM sales_transactions t, jsonb_array_elements(t.contribution->'lines') WITH ORDINALITY AS l(v, n)
  WHERE t.contribution IS NOT NULL;
INSERT INTO sales_tenders
  SELECT t.transaction_id, x.n::int, x.v->>0, (x.v->>1)::bigint
  FROM sales_transactions t, jsonb_array_elements(t.contribution->'tenders') WITH ORDINALITY AS x(v, n)
  WHERE t.contribution IS NOT NULL;
ALTER TABLE sales_transactions DROP COLUMN contribution;
