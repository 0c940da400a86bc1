import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { keyPartition, murmur2 } from './murmur2.ts';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

describe('murmur2 (partition of a keyed record)', () => {
  it("agrees with kafkajs' (and so the Java client's) hash on keys of every length and on the project's keys", () => {
    const keys: Array<Buffer | string> = ['', 'a', 'ab', 'abc', 'abcd', 'S001|5m|sku|SKU-17|2026-03-01T09:00:00.000Z', 'é€😀', 'kafka'];
    for (let n = 0; n < 2000; n++) keys.push(randomBytes(n % 67));
    for (const key of keys) expect(murmur2(key)).toBe(kafkajsMurmur2(key));
    // Known values of the Java client's Utils.murmur2 (its UtilsTest).
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
  });

  it('picks the partition the default partitioner picks', () => {
    for (let n = 0; n < 500; n++) {
      const key = randomBytes(1 + (n % 40)).toString('hex');
      for (const partitions of [1, 3, 12]) expect(keyPartition(key, partitions)).toBe((kafkajsMurmur2(key) & 0x7fffffff) % partitions);
    }
  });
});
