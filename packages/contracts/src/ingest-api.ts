import { z } from 'zod';

/** Bodies of the ingest API (POST /v1/transactions and /v1/transactions/batch). */

/** What a terminal gets once the broker acknowledged its transaction; replayed unchanged for the same transactionId. */
export const IngestReceipt = z.object({
  transactionId: z.uuid(),
  partition: z.number().int().min(0),
  /** Decimal string: Kafka offsets are 64-bit. */
  offset: z.string().regex(/^\d+$/),
  /** When ingest first received it (server clock). */
  receivedAt: z.iso.datetime({ offset: true }),
});
export type IngestReceipt = z.infer<typeof IngestReceipt>;

export const MAX_BATCH_TRANSACTIONS = 500;

/** A terminal's offline backlog. Items are validated one by one, so one bad item does not sink the rest. */
export const IngestBatchRequest = z.strictObject({
  transactions: z.array(z.unknown()).min(1).max(MAX_BATCH_TRANSACTIONS),
});

export const ProblemDocument = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  instance: z.string().optional(),
  errors: z.array(z.object({ pointer: z.string(), message: z.string() })).optional(),
});

export const IngestBatchItemResult = z.object({
  index: z.number().int().min(0),
  transactionId: z.string().optional(),
  /** The status this item would have had as a single POST: 201, 200 (replayed), 4xx or 503. */
  status: z.number().int(),
  receipt: IngestReceipt.optional(),
  problem: ProblemDocument.optional(),
});

export const IngestBatchResponse = z.object({
  results: z.array(IngestBatchItemResult),
  summary: z.object({ created: z.number().int(), replayed: z.number().int(), failed: z.number().int() }),
});
export type IngestBatchResponse = z.infer<typeof IngestBatchResponse>;
