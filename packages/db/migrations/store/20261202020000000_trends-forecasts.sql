-- Up Migration

-- Demand forecasts per SKU (issue 18), made by the trends service from its
-- own day and hourly windows (services/trends/src/forecasts.ts): the latest
-- forecast of each SKU, as published on forecast.demand.v1 (record), with
-- what /v1/forecast/top sorts by (the next 7 days' forecast units).
CREATE TABLE sales_forecasts (
  sku          text          COLLATE "C" PRIMARY KEY,
  method       text          NOT NULL,
  issued_at    timestamptz   NOT NULL,
  data_through date          NOT NULL,
  next7_units  numeric(18,3) NOT NULL,
  record       jsonb         NOT NULL
);
CREATE INDEX sales_forecasts_top ON sales_forecasts (next7_units DESC, sku);

GRANT SELECT, INSERT, UPDATE, DELETE ON sales_forecasts TO tillstream_trends;

-- Down Migration
DROP TABLE sales_forecasts;
