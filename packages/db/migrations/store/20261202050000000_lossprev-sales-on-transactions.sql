-- Up Migration

-- Loss prevention's sale lines as an array on their transaction (issue 19:
-- where a trends line's microseconds go). lossprev_lines held every counting
-- line, sales included, with a primary key (random UUID first) and an index
-- on the sales, for one question: did this operator sell this SKU in the
-- refund window before a return? On a 1,000,000-line catch-up the line
-- insert took 13 s of the 36 s booking. The SKUs a (non-training) sale counts
-- now sit on its transaction row, with one index per sale instead of two
-- per line; lossprev_lines keeps the return lines, whose amounts are summed.
-- The primary key guarded nothing: a transaction's lines are inserted once,
-- in the database transaction whose insert into lossprev_transactions found
-- it new.
ALTER TABLE lossprev_transactions ADD COLUMN sold_skus text[];
UPDATE lossprev_transactions t SET sold_skus = l.skus
  FROM (SELECT transaction_id, array_agg(sku ORDER BY line_number) AS skus FROM lossprev_lines WHERE type = 'SALE' GROUP BY transaction_id) l
  WHERE l.transaction_id = t.transaction_id;
CREATE INDEX lossprev_transactions_sales ON lossprev_transactions (operator_id, occurred_at) WHERE sold_skus IS NOT NULL;
DROP INDEX lossprev_lines_sales;
DELETE FROM lossprev_lines WHERE type <> 'RETURN';
ALTER TABLE lossprev_lines DROP CONSTRAINT lossprev_lines_pkey;
CREATE INDEX lossprev_lines_returns ON lossprev_lines (transaction_id);

-- Down Migration
-- Sale lines come back with their SKUs and numbers; their amounts were never read (only returns' are) and come back as 0.
DROP INDEX lossprev_lines_returns;
INSERT INTO lossprev_lines (transaction_id, line_number, type, operator_id, sku, occurred_at, amount)
  SELECT t.transaction_id, s.n, 'SALE', t.operator_id, s.sku, t.occurred_at, 0
  FROM lossprev_transactions t CROSS JOIN LATERAL unnest(t.sold_skus) WITH ORDINALITY AS s(sku, n)
  WHERE t.sold_skus IS NOT NULL;
ALTER TABLE lossprev_lines ADD PRIMARY KEY (transaction_id, line_number);
CREATE INDEX lossprev_lines_sales ON lossprev_lines (operator_id, sku, occurred_at) WHERE type = 'SALE';
DROP INDEX lossprev_transactions_sales;
ALTER TABLE lossprev_transactions DROP COLUMN sold_skus;
