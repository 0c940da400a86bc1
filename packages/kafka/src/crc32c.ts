import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 checksums each record batch (CRC-32C) in JavaScript, a byte
 * at a time: 2.1 ms per MiB here, 1 s of a 300,000-line trends catch-up's
 * profile, where publishing sends ~1.9 window events (~730 bytes each) per
 * line (BENCHMARKS.md, issue 19). @node-rs/crc32 (napi-rs, prebuilt for
 * each platform, the CPU's CRC-32C instruction where there is one) gives
 * the same value at 0.13 ms per MiB.
 *
 * kafkajs' record batch takes the function from `require()` when it is
 * first loaded, at the first produce, so the module's cached exports are
 * replaced when @tillstream/kafka is loaded (client.ts imports this). Where
 * the native module does not load (a platform without a prebuilt binary),
 * or the record batch was loaded already, kafkajs' own stays and
 * `useNativeCrc32c` says so.
 */

const require = createRequire(import.meta.url);
const CRC_MODULE = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';
const RECORD_BATCH_MODULE = 'kafkajs/src/protocol/recordBatch/v0/index.js';
const PATCHED = Symbol.for('tillstream.kafkajs.nativeCrc32c');

type Crc32c = (buffer: Buffer) => number;

/** kafkajs' own (an unsigned 32-bit value), kept for the unit test's comparison. */
export const kafkajsCrc32c: Crc32c = require(CRC_MODULE) as Crc32c;

function native(): Crc32c | undefined {
  try {
    const { crc32c } = require('@node-rs/crc32') as { crc32c: (this: void, input: Buffer, initial?: number) => number };
    return (buffer) => crc32c(buffer) >>> 0;
  } catch {
    return undefined;
  }
}

/** Puts the native CRC-32C in kafkajs' place; true if it is in place (now or before). */
export function useNativeCrc32c(): boolean {
  const cached = require.cache[require.resolve(CRC_MODULE)];
  if (!cached) return false;
  if ((cached.exports as { [PATCHED]?: true })[PATCHED]) return true;
  if (require.cache[require.resolve(RECORD_BATCH_MODULE)]) return false; // the record batch holds kafkajs' function already
  const crc = native();
  if (!crc) return false;
  cached.exports = Object.assign(crc, { [PATCHED]: true as const });
  return true;
}

useNativeCrc32c();
