import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { Identifier, maskCardLikeDigits, QuarantineStatus } from '@tillstream/contracts';
import {
  createPool,
  databaseUrl,
  getQuarantine,
  listQuarantine,
  migrate,
  quarantinedRecord,
  resolveQuarantine,
  summarizeQuarantine,
  withTransaction,
  type Pool,
  type QuarantineFilter,
  type QuarantineRow,
  type QuarantineTarget,
} from '@tillstream/db';
import { HEADER, TypedProducer, createKafkaClient, kafkaSecurityFromEnv } from '@tillstream/kafka';
import { createLogger } from '@tillstream/observability';
import { cliEnv } from '../env.ts';
import { storeDatabaseUrl } from './terminal.ts';

/**
 * `tillstream dlq`: the quarantine (docs/quarantine.md) of a store or of HQ.
 *
 * Replay re-produces the record's original bytes to its topic with the header
 * `tillstream-replay-for: <consumer group>`: the one consumer group that
 * dead-lettered it books it (once: consumers de-duplicate by transactionId
 * and line, so even a replay run twice books once), and every other group
 * reading the topic skips it, so nothing that booked the original is handed
 * a second copy. A consumer that fails on it again quarantines it again, as
 * a new entry. An `upload-refused` entry is replayed by marking it so: sync
 * uploads the refused outbox record again.
 */

interface Where {
  store?: string;
  hq?: boolean;
  databaseUrl?: string;
}

interface Scope {
  target: QuarantineTarget;
  databaseUrl: string;
  brokers: string[];
  /** "store S001" or "HQ", for messages. */
  name: string;
}

function identifier(value: string): string {
  const parsed = Identifier.safeParse(value);
  if (!parsed.success) throw new Error(`store "${value}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return value;
}

function scopeOf(opts: Where): Scope {
  if (opts.hq && opts.store) throw new Error('give --store <id> or --hq, not both');
  if (opts.hq) {
    return {
      target: 'hq',
      databaseUrl: opts.databaseUrl ?? cliEnv.HQ_DATABASE_URL ?? databaseUrl(cliEnv.POSTGRES_URL, 'tillstream_hq'),
      brokers: cliEnv.HQ_KAFKA_BROKERS,
      name: 'HQ',
    };
  }
  if (!opts.store) throw new Error('give --store <id> (a store quarantine) or --hq (HQ: every store)');
  return { target: 'store', databaseUrl: storeDatabaseUrl(opts.store, opts.databaseUrl), brokers: cliEnv.KAFKA_BROKERS, name: `store ${opts.store}` };
}

async function withDb<T>(scope: Scope, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const logger = createLogger({ name: 'cli', level: 'warn' });
  await migrate({ databaseUrl: scope.databaseUrl, target: scope.target, logger });
  const pool = createPool({ connectionString: scope.databaseUrl, logger, applicationName: 'tillstream-cli', max: 2 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

function whereOptions(command: Command): Command {
  return command
    .option('--store <id>', "a store's quarantine (its database and broker)", identifier)
    .option('--hq', "HQ's quarantine: every store's entries, and HQ's own dead letters")
    .option('--database-url <url>', 'the database (default: tillstream_store_<store> or tillstream_hq on POSTGRES_URL)');
}

function filterOptions(command: Command): Command {
  return command
    .option('--topic <name>', 'only entries of this topic (as deployed, e.g. pos.transactions.v1)')
    .option('--service <name>', 'only entries set aside by this service (inventory, trends, sync, hq)')
    .option('--code <code>', 'only entries with this error code');
}

interface FilterOpts {
  topic?: string;
  service?: string;
  code?: string;
}

function filterOf(opts: FilterOpts, extra: QuarantineFilter = {}): QuarantineFilter {
  return {
    ...extra,
    ...(opts.topic ? { topic: opts.topic } : {}),
    ...(opts.service ? { service: opts.service } : {}),
    ...(opts.code ? { code: opts.code } : {}),
  };
}

/** "3 d 4 h", "12 min", "40 s": how long ago. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.round((s % 86_400) / 3600)} h`;
}

/** Ids as given: "12", "12-20" (a range), several separated by spaces or commas. */
export function parseIds(args: string[]): Array<{ from: string; to: string }> {
  return args
    .flatMap((a) => a.split(','))
    .filter((a) => a !== '')
    .map((a) => {
      const m = /^(\d{1,19})(?:(?:-|\.\.)(\d{1,19}))?$/.exec(a);
      if (!m) throw new Error(`"${a}" is not an entry id or a range of ids (12, 12-20)`);
      const from = m[1]!;
      const to = m[2] ?? from;
      if (BigInt(to) < BigInt(from)) throw new Error(`range ${a} runs backwards`);
      return { from, to };
    });
}

/** The ranges the ids name, or [undefined] (every entry matching the filters) with --all: checked before anything is touched. */
function rangesOf(ids: string[], opts: { all?: boolean }): Array<{ from: string; to: string } | undefined> {
  if (ids.length > 0 && opts.all) throw new Error('give entry ids or --all, not both');
  if (ids.length === 0 && !opts.all) throw new Error('give the entry ids (12, 12-20), or --all with filters');
  return opts.all ? [undefined] : parseIds(ids);
}

/** The open entries in `ranges` matching the filters. */
async function selected(pool: Pool, scope: Scope, ranges: Array<{ from: string; to: string } | undefined>, opts: FilterOpts): Promise<QuarantineRow[]> {
  const rows = new Map<string, QuarantineRow>();
  for (const range of ranges) {
    for (const row of await listQuarantine(pool, scope.target, filterOf(opts, { status: 'open', limit: 10_000, ...(range ? { ids: range } : {}) }))) rows.set(row.id, row);
  }
  if (rows.size === 0) throw new Error(`no open quarantine entry of ${scope.name} matches`);
  return [...rows.values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}

function actorOption(command: Command): Command {
  return command.option('--actor <name>', 'who is doing this, recorded with the entry (default: your login name)');
}

function actorOf(opts: { actor?: string }): string {
  const actor = (opts.actor ?? userInfo().username).trim();
  if (!actor) throw new Error('--actor must not be empty');
  return actor.slice(0, 200);
}

/** The record's original headers, without the dead-letter ones, and addressed to one consumer group. */
function replayHeaders(headers: Record<string, string>, group: string): Record<string, string> {
  const deadLetterHeaders = new Set<string>([
    HEADER.errorCode,
    HEADER.errorMessage,
    HEADER.errorRetriable,
    HEADER.originalTopic,
    HEADER.originalPartition,
    HEADER.originalOffset,
    HEADER.deadLetteredAt,
    HEADER.attempts,
    HEADER.consumerGroup,
    HEADER.replayFor,
  ]);
  return { ...Object.fromEntries(Object.entries(headers).filter(([k]) => !deadLetterHeaders.has(k))), [HEADER.replayFor]: group };
}

function printable(row: QuarantineRow): QuarantineRow {
  return { ...row, message: maskCardLikeDigits(row.message), headers: Object.fromEntries(Object.entries(row.headers).map(([k, v]) => [k, maskCardLikeDigits(v)])) };
}

export function dlqCommand(): Command {
  const dlq = new Command('dlq').description(
    'inspect, replay and discard quarantined records (dead letters and uploads HQ refused) of a store (--store <id>) or of HQ (--hq)',
  );

  filterOptions(whereOptions(dlq.command('list').description('count entries by topic, service and code with their ages; --entries lists each one')))
    .addOption(new Option('--status <status>', 'which entries').choices([...QuarantineStatus.options, 'all']).default('open'))
    .option('--entries', 'list every entry (id, age, service, code, transaction, error), not only the counts')
    .option('--json', 'print {groups, entries} as JSON')
    .action(async (opts: Where & FilterOpts & { status: QuarantineStatus | 'all'; entries?: boolean; json?: boolean }) => {
      const scope = scopeOf(opts);
      const filter = filterOf(opts, { status: opts.status });
      const { groups, entries } = await withDb(scope, async (pool) => ({
        groups: await summarizeQuarantine(pool, scope.target, filter),
        entries: opts.entries || opts.json ? await listQuarantine(pool, scope.target, { ...filter, limit: 10_000 }) : [],
      }));
      if (opts.json) {
        console.log(JSON.stringify({ groups, entries: entries.map(({ headers: _h, ...e }) => ({ ...e, message: maskCardLikeDigits(e.message) })) }));
        return;
      }
      if (groups.length === 0) {
        console.log(`nothing ${opts.status === 'all' ? '' : `${opts.status} `}in the quarantine of ${scope.name}`);
        return;
      }
      const store = scope.target === 'hq' ? 'store\t' : '';
      console.log(`${store}topic\tservice\tcode\tcount\toldest\tnewest`);
      for (const g of groups) console.log(`${scope.target === 'hq' ? `${g.storeId}\t` : ''}${g.topic ?? '-'}\t${g.service}\t${g.code}\t${g.count}\t${age(g.oldestAt)}\t${age(g.newestAt)}`);
      if (opts.entries) {
        console.log('');
        console.log(`id\t${store}age\tstatus\tservice\tcode\ttransaction\terror`);
        for (const e of entries) {
          console.log(`${e.id}\t${scope.target === 'hq' ? `${e.storeId}\t` : ''}${age(e.quarantinedAt)}\t${e.status}\t${e.service}\t${e.code}\t${e.transactionId ?? '-'}\t${maskCardLikeDigits(e.message).slice(0, 200)}`);
        }
      }
    });

  whereOptions(dlq.command('show').description('show one entry: where it came from, its error headers, and the record (card-like digit runs masked)').argument('<id>', 'entry id'))
    .option('--json', 'print the entry as JSON')
    .action(async (id: string, opts: Where & { json?: boolean }) => {
      const scope = scopeOf(opts);
      const { row, record } = await withDb(scope, async (pool) => ({
        row: await getQuarantine(pool, scope.target, id),
        record: await quarantinedRecord(pool, scope.target, id),
      }));
      if (!row) throw new Error(`no quarantine entry ${id} in ${scope.name}`);
      const value = record ? maskCardLikeDigits(record.value.toString('utf8')) : null;
      if (opts.json) {
        console.log(JSON.stringify({ ...printable(row), record: value }));
        return;
      }
      const p = printable(row);
      const lines: Array<[string, string | number | null]> = [
        ['entry', `${row.id}${scope.target === 'hq' ? ` (store ${row.storeId}, entry ${row.entryId})` : ''}`],
        ['status', row.status + (row.resolvedAt ? ` by ${row.actor} at ${row.resolvedAt}${row.reason ? `: ${maskCardLikeDigits(row.reason)}` : ''}` : '')],
        ['source', row.source],
        ['service', row.service],
        ['consumer group', row.consumerGroup],
        ['record', row.topic ? `${row.topic} partition ${row.partition} offset ${row.offset}` : `sync outbox record ${row.outboxId}`],
        ['code', row.code],
        ['error', p.message],
        ['transaction', row.transactionId ? `${row.transactionId} (business day ${row.businessDay})` : null],
        ['quarantined', `${row.quarantinedAt} (${age(row.quarantinedAt)} ago)`],
      ];
      for (const [k, v] of lines) if (v !== null) console.log(`${k.padEnd(15)} ${v}`);
      const headers = Object.entries(p.headers);
      if (headers.length > 0) {
        console.log('headers');
        for (const [k, v] of headers) console.log(`  ${k}: ${v}`);
      }
      if (value !== null) {
        console.log('value');
        console.log(value);
      }
    });

  filterOptions(
    actorOption(
      whereOptions(
        dlq
          .command('replay')
          .description(
            'put entries back before the service that set them aside, once the cause is fixed: a dead letter is re-produced to its topic for its consumer group alone (booked once), an upload HQ refused is uploaded again',
          )
          .argument('[ids...]', 'entry ids or ranges (12 12-20 or 12,14)'),
      ),
    ),
  )
    .option('--all', 'every open entry matching --topic/--service/--code')
    .action(async (ids: string[], opts: Where & FilterOpts & { all?: boolean; actor?: string }) => {
      const scope = scopeOf(opts);
      const actor = actorOf(opts);
      const ranges = rangesOf(ids, opts);
      const logger = createLogger({ name: 'cli', level: 'warn' });
      await withDb(scope, async (pool) => {
        const rows = await selected(pool, scope, ranges, opts);
        const unreplayable = rows.filter((r) => r.source === 'dead-letter' && !r.replayable);
        if (unreplayable.length > 0) {
          throw new Error(
            `entries ${unreplayable.map((r) => r.id).join(', ')} are store ${unreplayable[0]!.storeId}'s dead letters: replay them at the store (tillstream dlq replay --store ${unreplayable[0]!.storeId} ${unreplayable.map((r) => r.entryId).join(' ')})`,
          );
        }
        const kafka = createKafkaClient({ brokers: scope.brokers, clientId: 'tillstream-cli', logger, security: kafkaSecurityFromEnv(cliEnv) });
        const producer = new TypedProducer({ kafka, logger, source: 'tillstream-cli', topicPrefix: '' });
        let connected = false;
        try {
          for (const row of rows) {
            // The row stays locked (and open) until the record is on the broker: two replays of one entry never both produce it.
            const done = await withTransaction(pool, async (client) => {
              const { rows: locked } = await client.query(`SELECT 1 FROM ${scope.target === 'hq' ? 'hq_quarantine' : 'quarantine'} WHERE id = $1 AND status = 'open' FOR UPDATE`, [row.id]);
              if (locked.length === 0) return undefined;
              if (row.source === 'dead-letter') {
                const record = await quarantinedRecord(client, scope.target, row.id);
                if (!record) throw new Error(`entry ${row.id} has no record to replay`);
                if (!connected) {
                  await producer.connect();
                  connected = true;
                }
                const [receipt] = await producer.sendRaw(record.topic, [
                  { key: record.key, value: record.value, headers: replayHeaders(record.headers, record.consumerGroup) },
                ]);
                await resolveQuarantine(client, scope.target, row.id, { status: 'replayed', actor, reason: `re-produced to ${record.topic} offset ${receipt!.offset} for ${record.consumerGroup}` });
                return `replayed entry ${row.id}: ${record.topic} offset ${receipt!.offset}, for ${record.consumerGroup} only`;
              }
              await resolveQuarantine(client, scope.target, row.id, { status: 'replayed', actor, reason: 'upload allowed again' });
              return `replayed entry ${row.id}: sync outbox record ${row.outboxId} will be uploaded again`;
            });
            console.log(done ?? `entry ${row.id} is no longer open; skipped`);
          }
        } finally {
          if (connected) await producer.disconnect();
        }
      });
    });

  filterOptions(
    actorOption(
      whereOptions(dlq.command('discard').description('close entries without replaying them; the reason is recorded with who and when').argument('[ids...]', 'entry ids or ranges (12 12-20 or 12,14)')),
    ),
  )
    .requiredOption('--reason <text>', 'why (recorded with the entry and sent to HQ)')
    .option('--all', 'every open entry matching --topic/--service/--code')
    .action(async (ids: string[], opts: Where & FilterOpts & { all?: boolean; actor?: string; reason: string }) => {
      const scope = scopeOf(opts);
      const actor = actorOf(opts);
      const reason = opts.reason.trim();
      if (!reason) throw new Error('--reason must say why');
      const ranges = rangesOf(ids, opts);
      await withDb(scope, async (pool) => {
        for (const row of await selected(pool, scope, ranges, opts)) {
          const done = await withTransaction(pool, (client) => resolveQuarantine(client, scope.target, row.id, { status: 'discarded', actor, reason: reason.slice(0, 2000) }));
          console.log(done ? `discarded entry ${row.id} (${row.code}${row.transactionId ? `, transaction ${row.transactionId}` : ''})` : `entry ${row.id} is no longer open; skipped`);
        }
      });
    });

  return dlq;
}
