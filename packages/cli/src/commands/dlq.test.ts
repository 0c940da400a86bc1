import { describe, expect, it } from 'vitest';
import { hqTransactions, QuarantineEntryV1 } from '@tillstream/contracts';
import { bookHqQuarantine, getQuarantine, recordQuarantine, withTransaction, type DeadLetterInput } from '@tillstream/db';
import { HEADER, topicOffsets } from '@tillstream/kafka';
import { readRecords, runTillstream, testDatabase, testEnv, testKafka } from '@tillstream/testing';
import { parseIds } from './dlq.ts';


const TX = '6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b';
const CARD_LIKE = '4000 1234 5678 9010';

function deadLetter(offset: string, overrides: Partial<DeadLetterInput> = {}): DeadLetterInput {
  return {
    source: 'dead-letter',
    service: 'trends',
    consumerGroup: 'S001.trends',
    topic: 'pos.transactions.v1',
    partition: 0,
    offset,
    key: 'S001:T01',
    value: Buffer.from(JSON.stringify({ schema: 'pos.transaction.v1', storeId: 'S001', data: { transactionId: TX, businessDay: '2026-11-28', operatorId: CARD_LIKE } })),
    headers: { [HEADER.schema]: 'pos.transaction.v1', [HEADER.errorCode]: 'DATABASE_ERROR', [HEADER.errorMessage]: `value ${CARD_LIKE} rejected` },
    code: 'DATABASE_ERROR',
    message: `SQLSTATE 22023: value ${CARD_LIKE} rejected`,
    ...overrides,
  };
}

describe('npx tillstream dlq (store)', () => {
  it('lists counts and ages by topic, service and code, shows an entry with its error headers but no card-like digits, and discards only with a recorded reason', async () => {
    const db = await testDatabase({ target: 'store' });
    const first = await withTransaction(db.pool, (c) => recordQuarantine(c, 'store', 'S001', deadLetter('3')));
    await withTransaction(db.pool, (c) => recordQuarantine(c, 'store', 'S001', deadLetter('4')));
    await withTransaction(db.pool, (c) => recordQuarantine(c, 'store', 'S001', deadLetter('5', { service: 'inventory', consumerGroup: 'S001.inventory', code: 'EVENT_INVALID' })));

    const list = await runTillstream('dlq', 'list', '--store', 'S001', '--database-url', db.url);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^topic\tservice\tcode\tcount\toldest\tnewest$/m);
    expect(list.stdout).toMatch(/^pos\.transactions\.v1\ttrends\tDATABASE_ERROR\t2\t\d+ s\t\d+ s$/m);
    expect(list.stdout).toMatch(/^pos\.transactions\.v1\tinventory\tEVENT_INVALID\t1\t/m);
    const onlyTrends = JSON.parse((await runTillstream('dlq', 'list', '--store', 'S001', '--database-url', db.url, '--service', 'trends', '--json')).stdout) as { entries: unknown[] };
    expect(onlyTrends.entries).toHaveLength(2);

    const show = await runTillstream('dlq', 'show', first.id, '--store', 'S001', '--database-url', db.url);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/tillstream-error-code: DATABASE_ERROR/);
    expect(show.stdout).toMatch(/SQLSTATE 22023/);
    expect(show.stdout).toContain(TX);
    // No run of 13 or more digits (spaced or not) is ever printed.
    expect(show.stdout.replace(/[ -]/g, '')).not.toMatch(/\d{13}/);
    expect(show.stdout).toMatch(/\[16 digits masked, ends 9010\]/);

    const noReason = await runTillstream('dlq', 'discard', first.id, '--store', 'S001', '--database-url', db.url);
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toMatch(/--reason/);
    expect((await getQuarantine(db.pool, 'store', first.id))!.status).toBe('open');

    const discard = await runTillstream('dlq', 'discard', first.id, '--store', 'S001', '--database-url', db.url, '--reason', 'training sale keyed twice', '--actor', 'manager-7');
    expect(discard.code).toBe(0);
    expect(await getQuarantine(db.pool, 'store', first.id)).toMatchObject({ status: 'discarded', actor: 'manager-7', reason: 'training sale keyed twice', resolvedAt: expect.any(String) });
    // The discard goes to HQ like every change of an entry.
    const { rows } = await db.pool.query<{ data: unknown }>("SELECT data FROM sync_outbox WHERE stream = 'quarantine' ORDER BY id");
    expect(rows.map((r) => QuarantineEntryV1.parse(r.data)).filter((e) => e.entryId === first.id).map((e) => [e.revision, e.status, e.resolution?.reason ?? null])).toEqual([
      [1, 'open', null],
      [2, 'discarded', 'training sale keyed twice'],
    ]);
    const again = await runTillstream('dlq', 'discard', first.id, '--store', 'S001', '--database-url', db.url, '--reason', 'again');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no open quarantine entry of store S001 matches/);
  }, 240_000);

  it('every dlq command has --help, and bad ids are refused in one line', async () => {
    for (const command of [['dlq'], ['dlq', 'replay'], ['dlq', 'discard']]) {
      const help = await runTillstream(...command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: tillstream dlq/);
    }
    expect(parseIds(['12', '14-16,20'])).toEqual([
      { from: '12', to: '12' },
      { from: '14', to: '16' },
      { from: '20', to: '20' },
    ]);
    const bad = await runTillstream('dlq', 'replay', 'x1', '--store', 'S001', '--database-url', 'postgres://127.0.0.1:1/none');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('tillstream: "x1" is not an entry id or a range of ids (12, 12-20)\n');
  }, 240_000);
});

describe('npx tillstream dlq --hq', () => {
  it("replays HQ's own dead letter to HQ's broker for its consumer group alone, and sends a store's entry back to the store", async () => {
    const db = await testDatabase({ target: 'hq' });
    const kafka = await testKafka({ specs: [hqTransactions], brokers: testEnv.HQ_KAFKA_BROKERS });
    const topic = `${kafka.prefix}${hqTransactions.name}`;
    const group = `${kafka.prefix}hq-views.${hqTransactions.name}`;
    const own = await withTransaction(db.pool, (c) => recordQuarantine(c, 'hq', 'unknown', deadLetter('9', { service: 'hq', consumerGroup: group, topic })));
    await bookHqQuarantine(db.pool, [
      {
        entryId: '41',
        storeId: 'S002',
        source: 'dead-letter',
        service: 'inventory',
        topic: 'pos.transactions.v1',
        partition: 0,
        offset: '77',
        outboxId: null,
        code: 'DATABASE_ERROR',
        message: 'm',
        transactionId: null,
        businessDay: null,
        quarantinedAt: new Date().toISOString(),
        status: 'open',
        resolution: null,
        revision: 1,
      },
    ]);

    const list = await runTillstream('dlq', 'list', '--hq', '--database-url', db.url);
    expect(list.stdout).toMatch(/^store\ttopic\tservice\tcode\tcount/m);
    expect(list.stdout).toMatch(/^S001\t/m);
    expect(list.stdout).toMatch(/^S002\t/m);

    const storeEntry = (await runTillstream('dlq', 'list', '--hq', '--database-url', db.url, '--json')).stdout;
    const foreign = (JSON.parse(storeEntry) as { entries: Array<{ id: string; storeId: string }> }).entries.find((e) => e.storeId === 'S002')!;
    const refused = await runTillstream('dlq', 'replay', foreign.id, '--hq', '--database-url', db.url);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/replay them at the store \(tillstream dlq replay --store S002 41\)/);

    const replay = await runTillstream('dlq', 'replay', own.id, '--hq', '--database-url', db.url, '--actor', 'hq-ops');
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(new RegExp(`replayed entry ${own.id}: ${topic.replace(/\./g, '\\.')} offset \\d+, for ${group.replace(/\./g, '\\.')} only`));
    const end = (await topicOffsets(kafka.kafka, topic)).reduce((n, p) => n + Number(p.high), 0);
    expect(end).toBe(1);
    const [record] = await readRecords(kafka.kafka, topic);
    expect(record!.headers[HEADER.replayFor]).toBe(group);
    expect(record!.headers[HEADER.errorCode]).toBeUndefined();
    expect(await getQuarantine(db.pool, 'hq', own.id)).toMatchObject({ status: 'replayed', actor: 'hq-ops' });
  }, 240_000);
});
