-- Up Migration

-- Who booked each stock operation (issue 14 item 3): the signed-in store
-- manager's name, shown in the movement history. Operations booked before
-- this migration have none. Item settings keep who changed them last.
ALTER TABLE inventory_operations ADD COLUMN actor text;
ALTER TABLE inventory_items ADD COLUMN settings_by text;

-- Down Migration

ALTER TABLE inventory_items DROP COLUMN settings_by;
ALTER TABLE inventory_operations DROP COLUMN actor;
