import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 encodes each record of a produce request with a new
 * `Encoder` for the record and another for each of its headers. Every
 * Encoder starts as a zero-filled 512-byte Buffer and doubles, by copying,
 * past that. A window event of the trends service (two headers, a JSON
 * value of ~500 bytes) therefore cost four allocations, three zero-fills and
 * a copy. In a CPU profile of the trends bench, record encoding was 7.9 s of
 * the service's 58 s, and most of the 7 s of garbage collection: about
 * 19 µs per published record.
 *
 * `encodeRecord` writes the same bytes (the v2 record format:
 * https://kafka.apache.org/documentation/#record) into one Buffer of the
 * record's exact size, allocated once. Anything outside the common case
 * goes to kafkajs' own encoder: a key, value or header value that is neither
 * a string, a Buffer nor null, or a timestamp delta beyond ±2^31 ms. Its
 * unit test compares the bytes with kafkajs' for many records.
 *
 * kafkajs has no hook for this: the produce request (v3, which v4-v7
 * reuse) takes its record encoder from `require()` when it is first loaded,
 * at the first produce. So the module's cached exports are replaced when
 * @tillstream/kafka, the only importer of kafkajs, is loaded, before any
 * produce. If the produce request was loaded already, the patch is not
 * applied, and `useFastRecordEncoding` says so.
 */

/** What kafkajs' produce request hands its record encoder. */
export interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

/** What kafkajs' record batch reads back: an Encoder-like object (`buf` a Buffer, `buffer` the bytes). */
export interface EncodedRecord {
  buf: Buffer;
  readonly buffer: Buffer;
}

type KafkajsRecord = (record: RecordInput) => EncodedRecord;

const require = createRequire(import.meta.url);
const RECORD_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0/index.js';
const PRODUCE_V3_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request.js';
const PATCHED = Symbol.for('tillstream.kafkajs.fastRecordEncoding');

/** kafkajs' own record encoder, kept for what encodeRecord leaves to it (and for the unit test's comparison). */
export const kafkajsRecord: KafkajsRecord = require(RECORD_MODULE) as KafkajsRecord;

const INT31 = 2 ** 31;

const zigzag = (n: number) => ((n << 1) ^ (n >> 31)) >>> 0;

function varintSize(n: number): number {
  let u = zigzag(n);
  let bytes = 1;
  while (u >= 0x80) {
    u >>>= 7;
    bytes++;
  }
  return bytes;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  let u = zigzag(n);
  while (u >= 0x80) {
    buf[offset++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[offset++] = u;
  return offset;
}

type Bytes = string | Buffer | null;

const isBytes = (v: unknown): v is Bytes | undefined => v == null || typeof v === 'string' || Buffer.isBuffer(v);
const byteLength = (v: Bytes) => (v === null ? -1 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
const fieldSize = (length: number) => varintSize(length) + Math.max(0, length);

function writeField(buf: Buffer, offset: number, v: Bytes, length: number): number {
  offset = writeVarint(buf, offset, length);
  if (v === null) return offset;
  if (typeof v === 'string') buf.write(v, offset, length, 'utf8');
  else v.copy(buf, offset);
  return offset + length;
}

/**
 * A record's headers as the v2 format writes them (their count, then each name and value), or
 * undefined for a value encodeRecord leaves to kafkajs. A frozen headers object (the producer shares
 * one among a call's records) is encoded once.
 */
const frozenHeaders = new WeakMap<object, Buffer | undefined>();
function encodeHeaders(headers: Record<string, unknown>): Buffer | undefined {
  const frozen = Object.isFrozen(headers);
  if (frozen && frozenHeaders.has(headers)) return frozenHeaders.get(headers);
  let encoded: Buffer | undefined;
  const names: string[] = [];
  const values: Bytes[] = [];
  let plain = true;
  for (const name in headers) {
    const v = headers[name];
    for (const one of Array.isArray(v) ? (v as unknown[]) : [v]) {
      if (!isBytes(one)) plain = false;
      names.push(name);
      values.push((one as Bytes | undefined) ?? null);
    }
  }
  if (plain) {
    const nameLengths = names.map((n) => Buffer.byteLength(n));
    const valueLengths = values.map(byteLength);
    let size = varintSize(names.length);
    for (let i = 0; i < names.length; i++) size += fieldSize(nameLengths[i]!) + fieldSize(valueLengths[i]!);
    encoded = Buffer.allocUnsafe(size);
    let at = writeVarint(encoded, 0, names.length);
    for (let i = 0; i < names.length; i++) {
      at = writeField(encoded, at, names[i]!, nameLengths[i]!);
      at = writeField(encoded, at, values[i]!, valueLengths[i]!);
    }
  }
  if (frozen) frozenHeaders.set(headers, encoded);
  return encoded;
}

/** One record, as kafkajs' `record/v0` encodes it, in one Buffer of its exact size. */
export function encodeRecord(record: RecordInput): EncodedRecord {
  const { offsetDelta = 0, timestampDelta = 0, key, value, headers = {} } = record;
  if (!isBytes(key) || !isBytes(value) || !Number.isInteger(timestampDelta) || Math.abs(timestampDelta) >= INT31 || !Number.isInteger(offsetDelta)) {
    return kafkajsRecord(record);
  }
  const encodedHeaders = encodeHeaders(headers);
  if (!encodedHeaders) return kafkajsRecord(record);
  const k = key ?? null;
  const val = value ?? null;
  const keyLength = byteLength(k);
  const valueLength = byteLength(val);
  const body = 1 + varintSize(timestampDelta) + varintSize(offsetDelta) + fieldSize(keyLength) + fieldSize(valueLength) + encodedHeaders.length;
  const buf = Buffer.allocUnsafe(varintSize(body) + body);
  let at = writeVarint(buf, 0, body);
  buf[at++] = 0; // attributes: none used
  at = writeVarint(buf, at, timestampDelta);
  at = writeVarint(buf, at, offsetDelta);
  at = writeField(buf, at, k, keyLength);
  at = writeField(buf, at, val, valueLength);
  at += encodedHeaders.copy(buf, at);
  if (at !== buf.length) throw new Error(`record encoding wrote ${at} of ${buf.length} bytes`);
  return { buf, buffer: buf };
}

/** Puts encodeRecord in kafkajs' place; true if it is in place (now or before). */
export function useFastRecordEncoding(): boolean {
  const path = require.resolve(RECORD_MODULE);
  const cached = require.cache[path];
  if (!cached) return false;
  if ((cached.exports as { [PATCHED]?: true })[PATCHED]) return true;
  if (require.cache[require.resolve(PRODUCE_V3_MODULE)]) return false; // the produce request holds kafkajs' encoder already
  cached.exports = Object.assign((record: RecordInput) => encodeRecord(record), { [PATCHED]: true as const });
  return true;
}

useFastRecordEncoding();
