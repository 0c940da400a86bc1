import { createHash } from 'node:crypto';
import type { Pool } from '@tillstream/db';

/**
 * A Bloom filter of every transactionId in the journal. New transactions are
 * the common case, and "definitely never seen" lets ingest skip the journal
 * look-up for them, so a burst costs no PostgreSQL round trip before the
 * produce. "Maybe seen" (a replay, or a 1% false positive) asks PostgreSQL.
 *
 * Sized for `capacity` ids at a 1% false-positive rate (9.6 bits per id:
 * 2.4 MB for two million ids). It is rebuilt from the journal at start and
 * after each pruning, so it never forgets an id the journal still holds.
 */
export class KnownIds {
  private bits: Uint8Array;
  private readonly size: number;
  private readonly hashes = 7;
  /** Ids added while a reload scans the journal, merged into the new bits when it ends. */
  private addedDuringLoad: string[] | undefined;

  constructor(capacity: number) {
    this.size = Math.max(1024, Math.ceil((capacity * -Math.log(0.01)) / Math.LN2 ** 2));
    this.bits = new Uint8Array(Math.ceil(this.size / 8));
  }

  private positions(id: string): number[] {
    // md5 as a fast, well-mixed hash: terminals make the UUIDs, so their own bits are not trusted to be random.
    const digest = createHash('md5').update(id).digest();
    const h1 = digest.readUInt32LE(0);
    const h2 = (digest.readUInt32LE(4) | 1) >>> 0; // odd, and unsigned again after the bitwise or
    return Array.from({ length: this.hashes }, (_, i) => (h1 + i * h2) % this.size);
  }

  add(id: string): void {
    this.addedDuringLoad?.push(id);
    KnownIds.set(this.bits, this.positions(id));
  }

  mightContain(id: string): boolean {
    return this.positions(id).every((p) => (this.bits[p >> 3]! & (1 << (p & 7))) !== 0);
  }

  private static set(bits: Uint8Array, positions: number[]): void {
    for (const p of positions) bits[p >> 3]! |= 1 << (p & 7);
  }

  /**
   * Replaces the contents with every id in the journal, read in key order
   * 50,000 at a time. Ids added meanwhile (captured while it scans) are kept.
   */
  async load(pool: Pool): Promise<number> {
    const bits = new Uint8Array(this.bits.length);
    let last = '00000000-0000-0000-0000-000000000000';
    let total = 0;
    this.addedDuringLoad = [];
    try {
      for (;;) {
        const { rows } = await pool.query<{ transaction_id: string }>(
          'SELECT transaction_id FROM ingest_transactions WHERE transaction_id > $1 ORDER BY transaction_id LIMIT 50000',
          [last],
        );
        for (const r of rows) KnownIds.set(bits, this.positions(r.transaction_id));
        total += rows.length;
        if (rows.length < 50_000) break;
        last = rows[rows.length - 1]!.transaction_id;
      }
      for (const id of this.addedDuringLoad) KnownIds.set(bits, this.positions(id));
    } finally {
      this.addedDuringLoad = undefined;
    }
    this.bits = bits;
    return total;
  }
}
