/**
 * Kafka's murmur2 key hash (the Java client's Utils.murmur2, which picks a
 * keyed record's partition), in 32-bit integer arithmetic. kafkajs computes
 * the same hash through a 64-bit Long emulation, which was a tenth of the
 * trends service's CPU while it published 377,000 windows (BENCHMARKS.md,
 * issue 19); murmur2.unit.test.ts checks both agree.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(key: Buffer | string): number {
  const data = typeof key === 'string' ? Buffer.from(key) : key;
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest >= 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner gives a keyed record. */
export const keyPartition = (key: Buffer | string, partitions: number): number => (partitions === 1 ? 0 : (murmur2(key) & 0x7fffffff) % partitions);
