-- Up Migration

-- Held post-voids have one shape in every consumer (packages/db/src/held-voids.ts):
-- trends' record when the void happened too, as inventory's do. Nullable:
-- voids held before this migration have none.
ALTER TABLE sales_voids ADD COLUMN occurred_at timestamptz;

-- Down Migration
ALTER TABLE sales_voids DROP COLUMN occurred_at;
