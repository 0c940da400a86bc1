-- Up Migration

-- Store client certificates (README "HTTPS and mutual TLS"). HQ accepts any
-- certificate its chain CA signed for the store in the path (subject CN =
-- store id, OU = store) unless its serial is listed here as revoked. The
-- certificates `tillstream store add` issued are recorded, so that revoking
-- a store revokes every certificate it holds without anyone copying serials.
CREATE TABLE hq_store_certificates (
  serial     text        PRIMARY KEY,
  store_id   text        NOT NULL,
  not_after  timestamptz NOT NULL,
  issued_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX hq_store_certificates_store ON hq_store_certificates (store_id);
-- HQ only reads the list; `tillstream store add|certificate|revoke` writes it as the owner.
GRANT SELECT ON hq_store_certificates TO tillstream_hq;

-- Down Migration

DROP TABLE hq_store_certificates;
