-- Up Migration

-- HQ scales out by role (issue 17 item 3).

-- An upload batch being applied: claimed in a short transaction, produced to
-- HQ's Kafka with no database connection held, then recorded in hq_batches
-- (which deletes the claim). A copy arriving while the claim is live gets
-- 409; a claim left by a crashed process lapses at claimed_until and the next
-- copy applies the batch (its records may then be on the topic twice: HQ's
-- views are keyed by each record's identity and count them once).
CREATE TABLE hq_batch_claims (
  store_id      text        NOT NULL,
  batch_id      text        NOT NULL,
  claim_id      uuid        NOT NULL,
  body_hash     bytea       NOT NULL,
  claimed_until timestamptz NOT NULL,
  PRIMARY KEY (store_id, batch_id)
);

-- Every verification of a store day, written in the transaction that holds
-- the manifest's row lock (FOR UPDATE SKIP LOCKED): started_at and ended_at
-- are the database's clock inside that lock, so two verifications of one day
-- never overlap; the log is the evidence, and an audit of who verified what.
CREATE TABLE hq_verifications (
  verification_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  store_id        text        NOT NULL,
  business_day    date        NOT NULL,
  verifier        text        NOT NULL,
  started_at      timestamptz NOT NULL,
  ended_at        timestamptz NOT NULL,
  status          text        NOT NULL
);
CREATE INDEX hq_verifications_day ON hq_verifications (store_id, business_day, started_at);
CREATE INDEX hq_verifications_ended ON hq_verifications (ended_at);

-- Re-verification picks verified days by age, never scanning every manifest.
CREATE INDEX hq_manifests_verified ON hq_manifests (verified_at) WHERE status <> 'pending';

GRANT SELECT, INSERT, UPDATE, DELETE ON hq_batch_claims, hq_verifications TO tillstream_hq;

-- Down Migration
DROP INDEX hq_manifests_verified;
DROP TABLE hq_verifications;
DROP TABLE hq_batch_claims;
