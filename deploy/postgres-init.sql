-- Databases of a one-store + HQ deployment (docker-compose.yml), created
-- empty when the PostgreSQL volume is first initialised. The init step
-- (`tillstream migrate --target store|hq --database <name>`) provisions the
-- roles, gives each database to the owner role with CONNECT for its own
-- services only, and applies the migrations as the owner: no service runs
-- DDL or connects as the superuser (README "Least privilege").
CREATE DATABASE tillstream_store_s001;
CREATE DATABASE tillstream_hq;
