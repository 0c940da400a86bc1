-- Databases of a one-store + HQ deployment (docker-compose.yml). Each service
-- migrates its own database at start; this only creates them.
CREATE DATABASE tillstream_store_s001;
CREATE DATABASE tillstream_hq;
