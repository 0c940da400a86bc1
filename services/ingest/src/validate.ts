import { createHash } from 'node:crypto';
import { PosTransactionV1, type PosTransaction } from '@tillstream/contracts';
import type { TerminalIdentity } from '@tillstream/db';
import { HttpProblem, pointer, validationProblem } from '@tillstream/http';

export interface ValidationContext {
  terminal: TerminalIdentity;
  now: Date;
  retentionDays: number;
  maxClockSkewMinutes: number;
}

/**
 * Hash of the validated document: "same body" for idempotency. zod rebuilds
 * every object in schema order with defaults applied, so two documents that
 * differ only in key order or in spelled-out defaults serialise identically
 * (a test pins this).
 */
export function serialize(tx: PosTransaction): { json: string; bodyHash: Buffer } {
  const json = JSON.stringify(tx);
  return { json, bodyHash: bodyHashOf(json) };
}

/**
 * The body hash of a serialised transaction: SHA-256 of exactly the JSON
 * that is produced as the envelope's `data`. Capture hashes what it sends;
 * a restart recovering receipts from the log hashes `JSON.stringify` of the
 * record's parsed `data`, which is the same text (JSON.stringify of what
 * JSON.parse made of JSON.stringify output gives that output back), never the
 * record value or a re-validated document (zod may rebuild it).
 */
export function bodyHashOf(json: string): Buffer {
  return createHash('sha256').update(json).digest();
}

/**
 * Validates one transaction for this terminal: schema and balance (400/422),
 * that it is this terminal's and this store's (403), and that its time is
 * sane against the server clock (422): not further ahead than the allowed
 * clock skew, and not older than ingest remembers transactionIds, because
 * past that a replay could no longer be recognised.
 */
export function validateTransaction(body: unknown, ctx: ValidationContext, pointerPrefix: Array<string | number> = []): PosTransaction | HttpProblem {
  const parsed = PosTransactionV1.safeParse(body);
  if (!parsed.success) return validationProblem(parsed.error, pointerPrefix);
  const tx = parsed.data;
  // The auth middleware already refused tokens of another store, so the terminal's store is this ingest's.
  if (tx.storeId !== ctx.terminal.storeId) {
    return new HttpProblem('FORBIDDEN', `storeId ${tx.storeId} is not this terminal's store`);
  }
  if (tx.terminalId !== ctx.terminal.terminalId) {
    return new HttpProblem('FORBIDDEN', `terminal ${ctx.terminal.terminalId} may not post for terminal ${tx.terminalId}`);
  }
  const occurred = Date.parse(tx.occurredAt);
  const ahead = occurred - ctx.now.getTime();
  if (ahead > ctx.maxClockSkewMinutes * 60_000) {
    return new HttpProblem('UNPROCESSABLE', `occurredAt is ${Math.round(ahead / 60_000)} minutes ahead of the store clock; check the terminal clock`, {
      errors: [{ pointer: pointer([...pointerPrefix, 'occurredAt']), message: 'is in the future' }],
    });
  }
  if (-ahead > ctx.retentionDays * 86_400_000) {
    return new HttpProblem('UNPROCESSABLE', `occurredAt is older than ${ctx.retentionDays} days; such a transaction must be entered at HQ`, {
      errors: [{ pointer: pointer([...pointerPrefix, 'occurredAt']), message: 'is too old' }],
    });
  }
  return tx;
}
