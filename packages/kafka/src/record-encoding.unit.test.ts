import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { encodeRecord, kafkajsRecord, useFastRecordEncoding, type RecordInput } from './record-encoding.ts';
import { random, text as randomText } from './testing/random-input.ts';

const require = createRequire(import.meta.url);

function sample(next: () => number): RecordInput {
  const text = (max: number) => randomText(next, max);
  const bytes = (max: number): string | Buffer | null => {
    const r = next();
    if (r < 0.1) return null;
    if (r < 0.3) return Buffer.from(text(max));
    return text(max);
  };
  const headers: Record<string, unknown> = {};
  const count = Math.floor(next() * 4);
  for (let i = 0; i < count; i++) headers[`h${i}${text(5)}`] = next() < 0.2 ? [bytes(20) ?? '', bytes(20) ?? 'y'] : (bytes(40) ?? 'x'); // kafkajs cannot size a null header value
  const deltas = [0, 1, 63, 64, 127, 128, 8191, 8192, 1_000_000, 2 ** 31 - 1, -1, -64, -65];
  return {
    offsetDelta: Math.floor(next() * 20_000),
    timestampDelta: deltas[Math.floor(next() * deltas.length)]!,
    key: bytes(60),
    value: next() < 0.05 ? text(3000) : bytes(600),
    headers,
  };
}

describe("record encoding (kafkajs' record/v0, in one Buffer)", () => {
  it('writes the bytes kafkajs writes, for every kind of key, value, header and delta', () => {
    const next = random(19);
    for (let i = 0; i < 5000; i++) {
      const record = sample(next);
      expect(encodeRecord(record).buffer.equals(kafkajsRecord(record).buffer), JSON.stringify(record)).toBe(true);
    }
  });

  it('encodes a frozen headers object once, and writes what kafkajs writes for every record that shares it', () => {
    const next = random(7);
    for (let i = 0; i < 500; i++) {
      const record = sample(next);
      const headers = Object.freeze({ ...record.headers });
      for (const r of [{ ...record, headers }, { ...record, headers, key: 'other', offsetDelta: 3 }]) {
        expect(encodeRecord(r).buffer.equals(kafkajsRecord(r).buffer), JSON.stringify(r)).toBe(true);
      }
    }
    // A header value it does not handle goes to kafkajs (a number: its error), for every record that shares it.
    const odd = Object.freeze({ n: 42 as unknown as string });
    for (const value of ['a', 'b']) {
      expect(() => kafkajsRecord({ value, headers: odd })).toThrow(TypeError);
      expect(() => encodeRecord({ value, headers: odd })).toThrow(TypeError);
    }
  });

  it('leaves to kafkajs what it does not handle: a timestamp delta past 2^31 ms gets its bytes, a number as a value its error', () => {
    const far = { timestampDelta: 2 ** 40, value: 'v' };
    expect(encodeRecord(far).buffer.equals(kafkajsRecord(far).buffer)).toBe(true);
    const number = { value: 42 as unknown as string };
    expect(() => kafkajsRecord(number)).toThrow(TypeError);
    expect(() => encodeRecord(number)).toThrow(TypeError);
  });

  it("is what kafkajs' produce request loads as its record encoder", () => {
    expect(useFastRecordEncoding()).toBe(true);
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: RecordInput) => unknown;
    expect(Record).not.toBe(kafkajsRecord);
    const record = { key: 'k', value: '{"a":1}', headers: { 'content-type': 'application/json' } };
    expect((Record(record) as { buffer: Buffer }).buffer.equals(kafkajsRecord(record).buffer)).toBe(true);
  });
});
