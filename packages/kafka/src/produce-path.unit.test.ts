import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
// As client.ts does: the grouping before kafkajs loads its producer.
import { groupMessagesPerPartition, kafkajsGroupMessagesPerPartition, useLinearMessageGrouping } from './message-grouping.ts';
import { kafkajsCrc32c, useNativeCrc32c } from './crc32c.ts';
import './client.ts';

const require = createRequire(import.meta.url);

describe("kafkajs' produce path, patched (message-grouping.ts, crc32c.ts)", () => {
  it("groups messages by partition as kafkajs does, in one pass, and is what kafkajs' producer loaded", () => {
    const messages = Array.from({ length: 3000 }, (_, i) => ({ key: `k${(i * 7919) % 1013}`, value: String(i) }));
    const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId }));
    const partitioner = ({ message }: { message: { key: string } }) => Number(message.key.slice(1)) % 6;
    const input = { topic: 't', partitionMetadata, messages, partitioner };
    expect(groupMessagesPerPartition(input)).toEqual(kafkajsGroupMessagesPerPartition(input));
    expect(groupMessagesPerPartition({ ...input, partitionMetadata: [] })).toEqual({});
    expect(useLinearMessageGrouping()).toBe(true);
    expect(require('kafkajs/src/producer/groupMessagesPerPartition.js')).toBe(groupMessagesPerPartition);
  });

  it("checksums record batches as kafkajs does (CRC-32C), natively, and is what kafkajs' record batch loads", () => {
    for (const size of [0, 1, 7, 8, 9, 63, 64, 65, 730, 4096, 1 << 20]) {
      const bytes = randomBytes(size);
      const crc = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
      expect(crc(bytes), `${size} bytes`).toBe(kafkajsCrc32c(bytes));
    }
    // The check value of CRC-32C (RFC 3720): "123456789" -> 0xE3069283.
    expect(kafkajsCrc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(useNativeCrc32c()).toBe(true);
    expect(require('kafkajs/src/protocol/recordBatch/crc32C/index.js')).not.toBe(kafkajsCrc32c);
  });
});
