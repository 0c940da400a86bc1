import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeProduceRequest, handles, kafkajsProduceRequest, useFastProduceEncoding, type ProduceRequestInput } from './produce-encoding.ts';
import { random, text as randomText } from './testing/random-input.ts';
import './client.ts';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): unknown; fromInt(v: number): unknown };

function sample(next: () => number): ProduceRequestInput {
  const int = (max: number) => Math.floor(next() * max);
  const text = (max: number) => randomText(next, max);
  const bytes = (max: number) => (next() < 0.1 ? null : next() < 0.3 ? Buffer.from(text(max)) : text(max));
  const headers = Object.freeze({ 'tillstream-schema': 'sales.aggregate.v1', 'content-type': 'application/json' });
  return {
    acks: [-1, 0, 1][int(3)]!,
    timeout: int(60_000),
    transactionalId: next() < 0.5 ? null : `tx-${text(8)}`,
    ...(next() < 0.8 ? { producerId: Long.fromValue(int(2 ** 40)), producerEpoch: int(300) } : {}),
    topicData: Array.from({ length: 1 + int(3) }, (_, t) => ({
      topic: `topic-${t}-${text(6)}`,
      partitions: Array.from({ length: 1 + int(4) }, (_, partition) => ({
        partition,
        ...(next() < 0.7 ? { firstSequence: int(2 ** 31) } : {}),
        messages: Array.from({ length: int(40) }, () => ({ key: bytes(30), value: next() < 0.05 ? text(3000) : bytes(600), headers: next() < 0.7 ? headers : { other: text(10) } })),
      })),
    })),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("produce request encoding (kafkajs' produce v3, in one Buffer)", () => {
  it('writes the bytes kafkajs writes, for every mix of topics, partitions, records and producer state', async () => {
    const next = random(2026);
    const now = 1_800_000_000_123;
    vi.spyOn(Date, 'now').mockReturnValue(now);
    for (let i = 0; i < 300; i++) {
      const input = sample(next);
      expect(handles(input)).toBe(true);
      const theirs = (await kafkajsProduceRequest(input).encode()).buffer;
      expect(encodeProduceRequest(input, now).equals(theirs), `request ${i}`).toBe(true);
    }
  });

  it('leaves to kafkajs a compressed request and a message with its own timestamp', async () => {
    const input = sample(random(5));
    expect(handles({ ...input, compression: 1 })).toBe(false);
    const stamped = { ...input, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v', timestamp: '1700000000000' }] }] }] };
    expect(handles(stamped)).toBe(false);
    const Request = require('kafkajs/src/protocol/requests/produce/v3/request.js') as typeof kafkajsProduceRequest;
    expect((await Request(stamped).encode()).buffer.equals((await kafkajsProduceRequest(stamped).encode()).buffer)).toBe(true);
  });

  it("is what kafkajs' produce requests v3 to v7 load", async () => {
    expect(useFastProduceEncoding()).toBe(true);
    const input = sample(random(11));
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now);
    for (const version of [3, 4, 5, 6, 7]) {
      const Request = require(`kafkajs/src/protocol/requests/produce/v${version}/request.js`) as typeof kafkajsProduceRequest;
      const request = Request(input);
      expect(request.apiVersion).toBe(version);
      expect((await request.encode()).buffer.equals(encodeProduceRequest(input, now))).toBe(true);
    }
    expect(require('kafkajs/src/protocol/requests/produce/v3/request.js')).not.toBe(kafkajsProduceRequest);
  });
});
