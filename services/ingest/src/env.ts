import { z } from 'zod';
import { httpEnv, logEnv, parseEnv, positiveInt, postgresEnv, storeIdentityEnv, storeKafkaEnv } from '@tillstream/config';

/** Everything ingest reads from the environment; fails at boot with every bad variable named. */
export const ingestEnv = z.object({
  ...logEnv.shape,
  ...storeIdentityEnv.shape,
  ...storeKafkaEnv.shape,
  ...postgresEnv.shape,
  ...httpEnv(8080).shape,
  /** How long a terminal waits for the broker's acknowledgement before it gets 503 + Retry-After. */
  PRODUCE_TIMEOUT_MS: positiveInt.default(2000),
  /** How often an idle ingest checks that the broker still answers (for /readyz). */
  BROKER_PROBE_MS: positiveInt.default(5000),
  /** Group commit: most transactions in one produce request, and how long a request waits for company. */
  GROUP_COMMIT_MAX_BATCH: positiveInt.default(500),
  GROUP_COMMIT_LINGER_MS: z.coerce.number().min(0).max(100).default(2),
  /** Transactions accepted but not yet answered; past this, 503 (back-pressure, bounded memory). */
  MAX_IN_FLIGHT: positiveInt.default(10_000),
  BODY_LIMIT_BYTES: positiveInt.default(256 * 1024),
  BATCH_BODY_LIMIT_BYTES: positiveInt.default(8 * 1024 * 1024),
  /** Per-terminal token bucket. A till posts a sale every few seconds at most; backlogs go through /batch. */
  TERMINAL_RATE_PER_SECOND: z.coerce.number().positive().default(20),
  TERMINAL_RATE_BURST: positiveInt.default(40),
  /** How long transactionIds are remembered; terminals replay backlogs up to a month old. */
  IDEMPOTENCY_RETENTION_DAYS: positiveInt.default(35),
  /** How long a looked-up token is trusted; bounds how long a revoked token keeps working. */
  TOKEN_CACHE_MS: z.coerce.number().int().min(0).default(5000),
  /** transactionIds the in-memory idempotency filter is sized for (1% false positives at that count; 2.4 MB per two million). */
  IDEMPOTENCY_FILTER_CAPACITY: positiveInt.default(2_000_000),
  /** Furthest a terminal clock may run ahead of the server's. */
  MAX_CLOCK_SKEW_MINUTES: positiveInt.default(60),
});

export type IngestEnv = z.output<typeof ingestEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): IngestEnv {
  return parseEnv(ingestEnv, env);
}
