import { createRequire } from 'node:module';
import { encodeRecord, type EncodedRecord, type RecordInput } from './record-encoding.ts';

/**
 * kafkajs 2.2.4 encodes a produce request (v3, which v4-v7 reuse) level by
 * level: the records into a record batch body, the body into a batch (with
 * its CRC), the batch into a partition's entry, the entries into a topic's,
 * the topics into the request. Each level is a new `Encoder`: a zero-filled
 * Buffer that grows by doubling and copies what it holds. A 768 KiB request
 * of trends window events went through about eight zero-filled allocations
 * and copies of its size: 1.9 s of a 300,000-line catch-up's 9.3 s of
 * publishing CPU, and much of its garbage collection (BENCHMARKS.md).
 *
 * `encodeProduceRequest` writes the same bytes into one Buffer of their
 * exact size, each record copied once. It handles the producer's case:
 * no compression, and no message with a timestamp of its own. Anything else
 * goes to kafkajs' encoder. Its unit test compares the bytes with kafkajs'.
 *
 * The produce request v3 module is loaded here and its cached exports
 * replaced by a wrapper, before the modules of v4-v7 (which take v3's from
 * `require()` when they load, at the first produce) are loaded: client.ts
 * imports this after record-encoding.ts and crc32c.ts, whose functions the
 * v3 module takes in turn when it loads. `useFastProduceEncoding` says
 * whether the wrapper is in place.
 */

const require = createRequire(import.meta.url);
const PRODUCE_V3_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request.js';
const LATER_VERSIONS = [4, 5, 6, 7].map((v) => `kafkajs/src/protocol/requests/produce/v${v}/request.js`);
const CRC_MODULE = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';
const PATCHED = Symbol.for('tillstream.kafkajs.fastProduceEncoding');

interface Long {
  getHighBits(): number;
  getLowBits(): number;
}
interface LongModule {
  fromValue(value: unknown): Long;
  fromInt(value: number): Long;
}
const Long = require('kafkajs/src/utils/long') as LongModule;

/** A message as kafkajs hands it to the produce request (after partitioning). */
interface ProduceMessage extends RecordInput {
  timestamp?: unknown;
}

export interface ProduceRequestInput {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence?: number; messages: ProduceMessage[] }> }>;
}

/** What kafkajs' request framing reads from an encoded payload (an Encoder-like object). */
interface EncodedPayload {
  buf: Buffer;
  readonly buffer: Buffer;
  size(): number;
}

type KafkajsProduceRequest = (input: ProduceRequestInput) => { encode: () => Promise<EncodedPayload>; [key: string]: unknown };

const TRANSACTIONAL = 16;
const MAGIC = 2;

/** Whether encodeProduceRequest writes this request (else kafkajs does). */
export function handles(input: ProduceRequestInput): boolean {
  if ((input.compression ?? 0) !== 0) return false;
  for (const t of input.topicData) for (const p of t.partitions) for (const m of p.messages) if (m.timestamp != null) return false;
  return true;
}

/** The payload of a produce request v3, as kafkajs' v3 `encode` writes it, in one Buffer (for `handles` inputs). */
export function encodeProduceRequest(input: ProduceRequestInput, now = Date.now()): Buffer {
  const crc32c = require(CRC_MODULE) as (buffer: Buffer) => number;
  const transactionalId = input.transactionalId ?? null;
  const producerId = Long.fromValue(input.producerId ?? Long.fromInt(-1));
  const producerEpoch = input.producerEpoch ?? 0;
  const attributes = transactionalId ? TRANSACTIONAL : 0;
  // Every record first (each is its own small Buffer), to know the sizes.
  const topics = input.topicData.map((t) => ({
    topic: Buffer.from(t.topic, 'utf8'),
    partitions: t.partitions.map((p) => {
      const records: EncodedRecord[] = p.messages.map((m, i) => encodeRecord({ ...m, offsetDelta: i, timestampDelta: 0 }));
      let recordBytes = 0;
      for (const r of records) recordBytes += r.buffer.length;
      return { partition: p.partition, firstSequence: p.firstSequence ?? 0, records, recordBytes };
    }),
  }));
  const id = transactionalId === null ? null : Buffer.from(transactionalId, 'utf8');
  const BODY_HEAD = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4; // attributes .. firstSequence, then the record count
  const batchSize = (recordBytes: number) => 4 + 1 + 4 + BODY_HEAD + recordBytes; // leader epoch, magic, crc, body
  let size = 2 + (id?.length ?? 0) + 2 + 4 + 4;
  for (const t of topics) {
    size += 2 + t.topic.length + 4;
    for (const p of t.partitions) size += 4 + 4 + 8 + 4 + batchSize(p.recordBytes);
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  const int64 = (value: Long) => {
    buf.writeInt32BE(value.getHighBits(), at);
    buf.writeInt32BE(value.getLowBits(), at + 4);
    at += 8;
  };
  at = buf.writeInt16BE(id === null ? -1 : id.length, at);
  if (id) at += id.copy(buf, at);
  at = buf.writeInt16BE(input.acks, at);
  at = buf.writeInt32BE(input.timeout, at);
  at = buf.writeInt32BE(topics.length, at);
  const nowLong = Long.fromValue(now);
  for (const t of topics) {
    at = buf.writeInt16BE(t.topic.length, at);
    at += t.topic.copy(buf, at);
    at = buf.writeInt32BE(t.partitions.length, at);
    for (const p of t.partitions) {
      const batch = batchSize(p.recordBytes);
      at = buf.writeInt32BE(p.partition, at);
      at = buf.writeInt32BE(8 + 4 + batch, at); // the record set: first offset, length, batch
      int64(Long.fromInt(0)); // first offset
      at = buf.writeInt32BE(batch, at);
      at = buf.writeInt32BE(0, at); // partition leader epoch
      at = buf.writeInt8(MAGIC, at);
      const crcAt = at;
      at += 4;
      const bodyAt = at;
      at = buf.writeInt16BE(attributes, at);
      at = buf.writeInt32BE(p.records.length - 1, at); // last offset delta
      int64(nowLong); // first timestamp
      int64(nowLong); // max timestamp
      int64(producerId);
      at = buf.writeInt16BE(producerEpoch, at);
      at = buf.writeInt32BE(p.firstSequence, at);
      at = buf.writeInt32BE(p.records.length, at);
      for (const r of p.records) at += r.buffer.copy(buf, at);
      buf.writeUInt32BE(crc32c(buf.subarray(bodyAt, at)), crcAt);
    }
  }
  if (at !== size) throw new Error(`produce request encoding wrote ${at} of ${size} bytes`);
  return buf;
}

/** kafkajs' own v3 produce request, kept for what encodeProduceRequest leaves to it (and for the unit test's comparison). */
export const kafkajsProduceRequest = require(PRODUCE_V3_MODULE) as KafkajsProduceRequest;

/** kafkajs' v3 request, with `encode` writing one Buffer where encodeProduceRequest handles the input. */
function produceRequest(input: ProduceRequestInput) {
  const request = kafkajsProduceRequest(input);
  if (!handles(input)) return request;
  return {
    ...request,
    encode: () => {
      const buf = encodeProduceRequest(input);
      return Promise.resolve<EncodedPayload>({ buf, buffer: buf, size: () => buf.length });
    },
  };
}

/** Puts produceRequest in kafkajs' place; true if it is in place (now or before). */
export function useFastProduceEncoding(): boolean {
  const cached = require.cache[require.resolve(PRODUCE_V3_MODULE)];
  if (!cached) return false;
  if ((cached.exports as { [PATCHED]?: true })[PATCHED]) return true;
  if (LATER_VERSIONS.some((m) => require.cache[require.resolve(m)])) return false; // they hold kafkajs' v3 already
  cached.exports = Object.assign(produceRequest, { [PATCHED]: true as const });
  return true;
}

useFastProduceEncoding();
