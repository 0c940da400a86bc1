import type { IHeaders } from 'kafkajs';
import { RequestId } from '@tillstream/contracts';

/** Header names Tillstream writes on records. */
export const HEADER = {
  schema: 'tillstream-schema',
  contentType: 'content-type',
  /** When ingest received a transaction (server clock). */
  receivedAt: 'tillstream-received-at',
  /**
   * The id of the HTTP request that brought the record's transaction in
   * (ingest's X-Request-Id), carried on so every service's log lines about
   * it name the same id; records derived from many transactions carry none.
   */
  requestId: 'tillstream-request-id',
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

/** The record's request id (HEADER.requestId) if it is a valid RequestId; a missing or malformed one is none. */
export function requestIdHeader(headers: Record<string, string>): string | undefined {
  const value = headers[HEADER.requestId];
  return value !== undefined && RequestId.safeParse(value).success ? value : undefined;
}
