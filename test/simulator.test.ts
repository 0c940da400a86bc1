import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { issueTerminalToken } from '@tillstream/db';
import { testIngest } from '@tillstream/ingest/testing';
import { simulate } from '@tillstream/simulator';
import { readTopic, tcpProxy } from '@tillstream/testing';

const BIN = fileURLToPath(new URL('../packages/cli/bin/tillstream.js', import.meta.url));

/**
 * The terminal simulator against a real ingest, broker and PostgreSQL: what
 * it reports sending is exactly what the POS topic holds, each terminal's
 * sequence has no gaps, offline tills upload their backlog through the
 * batch endpoint, and ingest going away loses nothing.
 */
describe('terminal simulator', () => {
  it('synthetic traffic: every sale it counts is in the topic once, in each terminal\'s order, with returns, voids, training and offline backlogs', async () => {
    const ingest = await testIngest();
    const tokens: Record<string, string> = { T01: ingest.token };
    for (const t of ['T02', 'T03']) tokens[t] = await issueTerminalToken(ingest.db.pool, { storeId: 'S001', terminalId: t });

    // Ingest goes away in the middle of the run: tills retry and keep their sales. The outage follows
    // the run's own progress (cut once 20 sales are in, restored once the tills have retried), not the
    // clock: on a loaded machine a timed cut could land before the first sale or after the last.
    const proxy = await tcpProxy({ host: '127.0.0.1', port: Number(new URL(ingest.url).port) });
    let outage: 'before' | 'cut' | 'restored' = 'before';
    let cutting = Promise.resolve();
    // The back office's hook (the demo's DemoBackOffice) hears of every sale before it is rung up; one that throws stops no sale.
    const heard: string[] = [];
    const errors: unknown[] = [];
    const { tally } = await simulate({
      beforeRing: async (storeId, tx) => {
        heard.push(`${storeId}/${tx.transactionId}`);
        if (heard.length === 5) throw new Error('back office away');
      },
      onError: (storeId, err) => errors.push([storeId, (err as Error).message]),
      onProgress: (t) => {
        if (outage === 'before' && t.sent >= 20) {
          outage = 'cut';
          cutting = proxy.cut();
        } else if (outage === 'cut' && t.retries > 0) {
          outage = 'restored';
          void cutting.then(() => proxy.restore());
        }
      },
      mode: 'synthetic',
      stores: [{ storeId: 'S001', ingestUrl: `${new URL(ingest.url).protocol}//127.0.0.1:${proxy.port}`, tokens }],
      // A count, not a duration: how many sales a 4 s run rang up followed the machine's load (and with it
      // whether a void or an offline till came up at all); 240 at 60 a second is the same run on any machine.
      rate: 60,
      count: 240,
      returnRate: 0.1,
      voidRate: 0.05,
      trainingRate: 0.05,
      offlineRate: 0.03,
      offlineMs: 700,
      maxSkewMs: 3000,
      seed: 42,
    });
    expect(outage).toBe('restored');
    expect(tally.rejected).toEqual({});
    expect(tally.abandoned).toBe(0);
    expect(tally.accepted + tally.replayed).toBe(tally.sent);
    expect(tally.viaBatch).toBeGreaterThan(0);

    const records = await readTopic(ingest.kafka.kafka, ingest.topic);
    const txs = [...new Map(records.map((r) => [r.envelope.data.transactionId, r.envelope.data])).values()];
    expect(txs).toHaveLength(tally.sent);
    expect(heard.sort()).toEqual(txs.map((tx) => `S001/${tx.transactionId}`).sort());
    expect(errors).toEqual([['S001', 'back office away']]);
    for (const terminal of Object.keys(tokens)) {
      const sequence = txs.filter((tx) => tx.terminalId === terminal).map((tx) => tx.sequenceNumber).sort((a, b) => a - b);
      expect(sequence).toEqual(sequence.map((_, i) => i + 1));
    }
    const kinds = new Set(txs.map((tx) => (tx.trainingMode ? 'training' : tx.type)));
    expect([...kinds].sort()).toEqual(['POST_VOID', 'RETURN', 'SALE', 'training']);
    expect(txs.some((tx) => tx.tenders.some((t) => t.type === 'CARD'))).toBe(true);
  });

  it('replays the bakery log through ingest, each transaction under its stable id', async () => {
    // The log is from 2016-17: ingest must remember ids that long to accept it.
    const ingest = await testIngest({ IDEMPOTENCY_RETENTION_DAYS: '4000' });
    const tokens = { T01: ingest.token, T02: await issueTerminalToken(ingest.db.pool, { storeId: 'S001', terminalId: 'T02' }) };
    const run = () => simulate({ mode: 'replay', stores: [{ storeId: 'S001', ingestUrl: ingest.url, tokens }], speed: 1e9, count: 120 });
    const first = await run();
    expect(first.tally).toMatchObject({ sent: 120, accepted: 120, replayed: 0, abandoned: 0, rejected: {} });
    // A second replay of the same log is recognised: nothing is counted twice.
    const second = await run();
    expect(second.tally).toMatchObject({ sent: 120, accepted: 0, replayed: 120 });
    const records = await readTopic(ingest.kafka.kafka, ingest.topic);
    expect(records).toHaveLength(120);
    expect(records[0]!.envelope.data).toMatchObject({ transactionId: '00000001-0000-4000-8000-000000000001', businessDay: '2016-10-30' });
  });

  it('npx tillstream simulate provisions its terminals, prints a summary, and refuses bad options with a clear message', async () => {
    const ingest = await testIngest();
    const run = () => promisify(execFile)(process.execPath, [BIN, 'simulate', '--store', `S001=${ingest.url}`, '--database-url', ingest.db.url, '--count', '25', '--rate', '50', '--terminals', '2']);
    const { stdout } = await run();
    expect(stdout).toMatch(/sent +25 /);
    expect(stdout).toMatch(/accepted +25 \(201\)/);
    expect(stdout).toMatch(/abandoned +0 /);
    // A second run's tills go on numbering where the first left off, as real tills do.
    await run();
    const txs = (await readTopic(ingest.kafka.kafka, ingest.topic)).map((r) => r.envelope.data);
    expect(txs).toHaveLength(50);
    for (const terminal of ['T01', 'T02']) {
      const sequence = txs.filter((tx) => tx.terminalId === terminal).map((tx) => tx.sequenceNumber).sort((a, b) => a - b);
      expect(sequence).toEqual(sequence.map((_, i) => i + 1));
    }

    const bad = await promisify(execFile)(process.execPath, [BIN, 'simulate', '--rate', '-3']).catch((err: { code: number; stderr: string }) => err);
    expect(bad).toMatchObject({ code: 1 });
    expect((bad as { stderr: string }).stderr).toMatch(/--rate must be a positive number/);
  });
});
