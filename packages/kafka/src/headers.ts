import type { IHeaders } from 'kafkajs';

/** Header names Tillstream writes on records. */
export const HEADER = {
  schema: 'tillstream-schema',
  contentType: 'content-type',
  /** When ingest received a transaction (server clock). */
  receivedAt: 'tillstream-received-at',
  errorCode: 'tillstream-error-code',
  errorMessage: 'tillstream-error-message',
  errorRetriable: 'tillstream-error-retriable',
  originalTopic: 'tillstream-original-topic',
  originalPartition: 'tillstream-original-partition',
  originalOffset: 'tillstream-original-offset',
  deadLetteredAt: 'tillstream-dead-lettered-at',
  attempts: 'tillstream-attempts',
  /** The consumer group that dead-lettered a record (several groups read one topic and share its dead-letter topic). */
  consumerGroup: 'tillstream-consumer-group',
  /**
   * On a record re-produced by `tillstream dlq replay`: the one consumer group
   * it is for. Every other group skips it (it booked the original already).
   */
  replayFor: 'tillstream-replay-for',
} as const;

/** kafkajs headers (Buffer | string | arrays) as plain strings. */
export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}
