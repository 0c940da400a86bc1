import { z } from 'zod';
import { MAX_BATCH_TRANSACTIONS } from '@tillstream/contracts';
import { httpEnv, logEnv, parseEnv, positiveInt, postgresEnv, storeIdentityEnv, storeKafkaEnv } from '@tillstream/config';

/** Everything ingest reads from the environment; fails at boot with every bad variable named. */
export const ingestEnv = z
  .object({
  ...logEnv.shape,
  ...storeIdentityEnv.shape,
  ...storeKafkaEnv.shape,
  ...postgresEnv('ingest').shape,
  ...httpEnv(8080).shape,
  PRODUCE_TIMEOUT_MS: positiveInt.default(2000).describe("How long a terminal waits for the broker's acknowledgement before it gets 503 + Retry-After."),
  BROKER_PROBE_MS: positiveInt.default(5000).describe('How often an idle ingest checks that the broker still answers (for /readyz).'),
  GROUP_COMMIT_MAX_BATCH: positiveInt.default(500).describe('Group commit: most transactions in one produce request.'),
  GROUP_COMMIT_LINGER_MS: z.coerce.number().min(0).max(100).default(2).describe('Group commit: how long a request waits for others to share its produce request, in ms.'),
  MAX_IN_FLIGHT: positiveInt.default(10_000).describe('Transactions accepted but not yet answered; past this, 503 (back-pressure, bounded memory).'),
  MAX_IN_FLIGHT_PER_TERMINAL: positiveInt.default(2500).describe("One terminal's share of MAX_IN_FLIGHT; past it that terminal gets 429 and the rest stays for the other tills. At least a full batch (500)."),
  BODY_LIMIT_BYTES: positiveInt.default(256 * 1024).describe('Largest single-transaction body; larger gets 413.'),
  BATCH_BODY_LIMIT_BYTES: positiveInt
    .default(1024 * 1024)
    .describe('Largest batch body; larger gets 413. 1 MiB holds a full batch (500) of transactions averaging 2 KB; simulated traffic averages 0.7 KB (BENCHMARKS.md, fairness).'),
  TERMINAL_RATE_PER_SECOND: z.coerce.number().positive().default(20).describe('Per-terminal rate (token bucket). A till posts a sale every few seconds at most; backlogs go through /batch.'),
  TERMINAL_RATE_BURST: positiveInt.default(40).describe('Requests a terminal may send at once before the rate applies.'),
  TERMINAL_TRANSACTIONS_PER_SECOND: z.coerce
    .number()
    .positive()
    .default(100)
    .describe("Per-terminal transactions/s (token bucket), batches included. Validating and hashing a batched transaction took 0.4-1.1 ms on the shared 2-core test machine: 100/s keeps a till replaying its backlog to about a tenth of ingest's core."),
  TERMINAL_TRANSACTIONS_BURST: positiveInt.default(500).describe('Transactions a terminal may send at once before its rate applies (one full batch; a backlog then drains at the rate); at least a full batch (500).'),
  TERMINAL_BYTES_PER_SECOND: positiveInt.default(512 * 1024).describe('Per-terminal body bytes/s (token bucket), charged from Content-Length before the body is read.'),
  TERMINAL_BYTES_BURST: positiveInt.default(4 * 1024 * 1024).describe('Body bytes a terminal may send at once before its rate applies; at least BATCH_BODY_LIMIT_BYTES.'),
  TERMINAL_REFUSAL_DELAY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(1000)
    .describe("How long a terminal's repeated 429s (within 5 s of its last one, up to 16 at a time) are held before they are answered; a till that honours Retry-After never meets it. 0 answers every refusal at once."),
  IDEMPOTENCY_RETENTION_DAYS: positiveInt.default(35).describe('How long transactionIds are remembered; terminals replay backlogs up to a month old.'),
  TOKEN_CACHE_MS: z.coerce.number().int().min(0).default(5000).describe("How long a looked-up credential (a terminal's or a person's token, a session) is trusted; bounds how long a revoked one keeps working."),
  IDEMPOTENCY_FILTER_CAPACITY: positiveInt.default(2_000_000).describe('transactionIds the in-memory idempotency filter is sized for (1% false positives at that count; 2.4 MB per two million).'),
  MAX_CLOCK_SKEW_MINUTES: positiveInt.default(60).describe("Furthest a terminal clock may run ahead of the server's."),
  })
  // A budget smaller than one accepted request would refuse that request forever.
  .refine((env) => env.TERMINAL_TRANSACTIONS_BURST >= MAX_BATCH_TRANSACTIONS, { path: ['TERMINAL_TRANSACTIONS_BURST'], message: `must be at least a full batch (${MAX_BATCH_TRANSACTIONS})` })
  .refine((env) => env.MAX_IN_FLIGHT_PER_TERMINAL >= MAX_BATCH_TRANSACTIONS, { path: ['MAX_IN_FLIGHT_PER_TERMINAL'], message: `must be at least a full batch (${MAX_BATCH_TRANSACTIONS})` })
  .refine((env) => env.TERMINAL_BYTES_BURST >= Math.max(env.BATCH_BODY_LIMIT_BYTES, env.BODY_LIMIT_BYTES), { path: ['TERMINAL_BYTES_BURST'], message: 'must be at least the largest body accepted' });

export type IngestEnv = z.output<typeof ingestEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): IngestEnv {
  return parseEnv(ingestEnv, env);
}
