-- Up Migration

-- inventory_movements is the hot table: a catch-up writes one row per POS
-- line, and each index on it is another B-tree insert and WAL record per
-- line (issue 19; BENCHMARKS.md, inventory). Nothing looks a movement up by
-- its id alone: the history reads (sku, id DESC), post-voids read
-- (transaction_id, line_number), and no table references a movement. The id
-- stays unique without its index: it is GENERATED ALWAYS AS IDENTITY, and no
-- code writes it (OVERRIDING SYSTEM VALUE is used nowhere). The two indexes
-- that serve reads and the invariant stay: inventory_movements_pos_line
-- (UNIQUE transaction_id, line_number: nothing is counted twice) and
-- inventory_movements_sku.
ALTER TABLE inventory_movements DROP CONSTRAINT inventory_movements_pkey;

-- Down Migration
ALTER TABLE inventory_movements ADD PRIMARY KEY (id);
