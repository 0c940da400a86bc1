import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Command, InvalidArgumentError } from 'commander';
import { Agent, setGlobalDispatcher } from 'undici';
import { createPool, databaseUrl, ensureDatabase, issueStoreToken, issueUserToken, migrate, recordStoreCertificate, serviceDatabaseUrl } from '@tillstream/db';
import { down, ensureKafkaCredentials, ensureRedisUser, isPortFree, localKafkaSecurityEnv, provisionLocalKafka, startProcess, stopProcess, up } from '@tillstream/infra';
import { createLogger, progressBar } from '@tillstream/observability';
import { DemoBackOffice, HISTORY_TERMINALS, seedStore, simulate, type SeedResult, type SimulatedStore } from '@tillstream/simulator';
import { cliEnv, infraConfig } from '../env.ts';
import { issueStoreCertificate, makeChainCertificates } from './certs.ts';
import { provisionTills, sweetheart } from './simulate.ts';

function count(what: string, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${what} must be an integer from 1 to ${max}`);
    return n;
  };
}

/** The demo's planted sweethearting operator (--sweetheart): blatant enough for loss prevention to name within minutes of live selling. */
const DEMO_SWEETHEART = { operatorId: 'OP3', rate: 0.4 };

interface StorePorts {
  ingest: number;
  inventory: number;
  trends: number;
  sync: number;
}

/** With base port B: store n (0-based) listens on B+100n .. B+100n+3 (8080-8083, 8180-8183, ...); HQ on B+10 (8090). */
const portsOf = (base: number, n: number): StorePorts => {
  const at = base + 100 * n;
  return { ingest: at, inventory: at + 1, trends: at + 2, sync: at + 3 };
};

/**
 * Where a demo keeps its data. The default names (databases tillstream_hq and
 * tillstream_store_s001, topics s001.*) are the demo's; a namespace gives a
 * demo of its own beside them (databases tillstream_<ns>_..., topics <ns>.*,
 * its own sync queues), as the demo's test uses.
 */
export function demoNames(namespace: string | undefined) {
  const db = namespace ? `tillstream_${namespace}` : 'tillstream';
  const topics = namespace ? `${namespace}.` : '';
  return {
    hqDatabase: `${db}_hq`,
    hqTopicPrefix: topics,
    storeDatabase: (storeId: string) => `${db}_store_${storeId.toLowerCase()}`,
    storeTopicPrefix: (storeId: string) => `${topics}${storeId.toLowerCase()}.`,
  };
}

/**
 * The whole system on this machine: local infrastructure, HQ, and for each
 * demo store its ingest, inventory, trends and sync, with simulated tills
 * selling until Ctrl-C (or SIGTERM), which stops everything it started.
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'start a demo chain on this machine (what `npm start` runs): the local brokers, PostgreSQL and Redis, HQ, ' +
        'and per store ingest, inventory, trends and sync, with simulated terminals selling. ' +
        "Each store's dashboard and API are on base port + 100n + 1 (8081, 8181, ...), HQ's on base port + 10 (8090). " +
        'Ctrl-C or SIGTERM stops everything it started. Service logs go to --log-dir.',
    )
    .option('--stores <n>', 'number of demo stores (S001, S002, ...)', count('--stores', 9), 2)
    .option('--terminals <n>', 'simulated terminals per store', count('--terminals', 20), 3)
    .option('--rate <tx/s>', 'transactions per second per store', (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 200)) throw new InvalidArgumentError('--rate must be a number above 0 and at most 200');
      return n;
    }, 2)
    .option('--time-zone <tz>', "the stores' time zone", cliEnv.STORE_TIME_ZONE)
    .option('--log-dir <dir>', 'where each service writes its log', join(process.cwd(), '.demo', 'logs'))
    .option('--certs-dir <dir>', 'the chain CA and certificates (`tillstream certs` layout; the CA is created on first use and kept)', join(process.cwd(), '.demo', 'certs'))
    .option('--base-port <port>', 'store n listens on base+100n .. base+100n+3, HQ on base+10', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1024 || n > 64_000) throw new InvalidArgumentError('--base-port must be an integer from 1024 to 64000');
      return n;
    }, 8080)
    .option('--history-weeks <n>', 'weeks of history replayed from the bakery log before this week (0: this week so far only)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 8) throw new InvalidArgumentError('--history-weeks must be an integer from 0 to 8');
      return n;
    }, 8)
    .option('--namespace <ns>', 'keep this demo apart from the default one: databases tillstream_<ns>_*, topics <ns>.*', (v) => {
      if (!/^[a-z][a-z0-9_]{0,30}$/.test(v)) throw new InvalidArgumentError('--namespace must be 1-31 lower-case letters, digits or "_", starting with a letter');
      return v;
    })
    .option(
      '--sweetheart <operator=share>',
      "plant a sweethearting operator in the live tills, so the store manager's loss-prevention panel has someone to show: " +
        'on that share of their transactions the operator (OP1..OP4) rings a no-sale, a post-void or a refund of their own sale, ' +
        'or a return without receipt; "none" plants no one',
      (v) => (v === 'none' ? false : sweetheart(v)),
      DEMO_SWEETHEART,
    )
    .action(async (opts: { stores: number; terminals: number; rate: number; timeZone: string; logDir: string; certsDir: string; basePort: number; historyWeeks: number; namespace?: string; sweetheart: false | { operatorId: string; rate: number } }) => {
      const startedAt = performance.now();
      const logger = createLogger({ name: 'demo', level: 'info', pretty: true });
      const names = demoNames(opts.namespace);
      const hqPort = opts.basePort + 10;
      const stores = Array.from({ length: opts.stores }, (_, i) => ({ id: `S${String(i + 1).padStart(3, '0')}`, ports: portsOf(opts.basePort, i) }));
      const busy: number[] = [];
      for (const port of [hqPort, ...stores.flatMap(({ ports: p }) => [p.ingest, p.inventory, p.trends, p.sync])]) if (!(await isPortFree(port))) busy.push(port);
      if (busy.length) throw new Error(`port(s) ${busy.join(', ')} in use: is a demo or a service already running? Stop it first.`);
      mkdirSync(opts.logDir, { recursive: true });
      // Every listener serves HTTPS and HQ verifies each store's client certificate, as in production:
      // one server certificate for the loopback names, a client certificate per store (below).
      const certs = await makeChainCertificates(opts.certsDir, { servers: { demo: ['localhost', '127.0.0.1', '::1'] }, stores: [] });
      const server = certs.servers.demo!;
      const caPem = readFileSync(certs.ca.certFile, 'utf8');
      // This process (readiness checks, simulated tills) trusts the chain CA beside the public ones
      // (the first run downloads Kafka from Maven Central); the services get it as NODE_EXTRA_CA_CERTS.
      setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, caPem] } }));

      const stopping = new AbortController();
      const children: ChildProcess[] = [];
      const infra = infraConfig(logger);
      const brokerOf = (name: 'store' | 'hq') => `127.0.0.1:${infra.brokers.find((b) => b.name === name)!.port}`;
      let started: Awaited<ReturnType<typeof up>> | undefined;
      const stopAll = async () => {
        // Every store's services at once (none waits on another's stop), then HQ, which the stores' sync calls.
        const [hq, ...storeServices] = children;
        await Promise.all(storeServices.map((child) => stopProcess(child)));
        if (hq) await stopProcess(hq);
        if (started) logger.info({ stopped: await down(infra, started) }, 'local infrastructure stopped (what this demo started)');
      };
      let signals = 0;
      const onSignal = (signal: string) => {
        signals += 1;
        if (signals > 1) process.exit(130);
        logger.info({ signal }, 'stopping the demo');
        stopping.abort();
      };
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));

      try {
        logger.info('starting the local infrastructure (first run: downloads Apache Kafka from Maven Central)');
        started = await up(infra);
        // Each service connects as its own principal, limited by the ACLs provisioned for its store's prefix.
        const credentials = await ensureKafkaCredentials(infra.stateDir);
        const as = (principal: string) => localKafkaSecurityEnv(credentials, principal);
        await provisionLocalKafka(infra, 'hq', names.hqTopicPrefix);
        const postgres = infra.postgresUrl;
        const hqDb = databaseUrl(postgres, names.hqDatabase);
        await ensureDatabase(postgres, names.hqDatabase);
        await migrate({ databaseUrl: hqDb, target: 'hq', logger });
        const hqPool = createPool({ connectionString: hqDb, logger, applicationName: 'tillstream-demo', max: 1 });
        // The demo's people: an HQ admin (who may also view) and each store's manager, printed below.
        const adminToken = await issueUserToken(hqPool, { name: 'demo HQ admin', role: 'hq-admin' });
        const managers = new Map<string, string>();
        const simulated: SimulatedStore[] = [];
        const seeding: Array<Parameters<typeof seedStore>[0]> = [];
        // Sync logs in to Redis as its ACL user (BullMQ's keys only); this demo's password, in a secret file of its own.
        const redisUser = `tillstream_sync${opts.namespace ? `_${opts.namespace}` : ''}`;
        const redisPasswordFile = join(opts.logDir, '..', 'redis-sync-password');
        const redisPassword = randomBytes(24).toString('hex');
        writeFileSync(redisPasswordFile, `${redisPassword}\n`, { mode: 0o600 });
        await ensureRedisUser({ adminUrl: infra.redisUrl, user: redisUser, password: redisPassword });
        const syncRedis = new URL(infra.redisUrl);
        syncRedis.username = redisUser;
        const common = { LOG_LEVEL: 'info', TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile, NODE_EXTRA_CA_CERTS: certs.ca.certFile };
        // /readyz wants a viewer's token: the HQ admin's at HQ, the store manager's in a store.
        const run = async (name: string, script: string, env: Record<string, string>, port: number, token: string) => {
          if (stopping.signal.aborted) throw new Error('stopped while starting');
          logger.info({ process: name, port }, 'starting');
          children.push(
            await startProcess(script, { ...common, ...env, PORT: String(port) }, `https://127.0.0.1:${port}/readyz`, {
              logFile: join(opts.logDir, `${name}.log`),
              timeoutMs: 120_000,
              readyHeaders: { authorization: `Bearer ${token}` },
            }),
          );
        };

        // Every service connects with its own DML-only role (the databases were migrated as the owner) and its own Kafka principal.
        await run('hq', 'services/hq/src/main.ts', { DATABASE_URL: serviceDatabaseUrl(hqDb, 'hq'), HQ_KAFKA_BROKERS: brokerOf('hq'), HQ_TOPIC_PREFIX: names.hqTopicPrefix, TLS_CLIENT_CA_FILE: certs.ca.certFile, ...as('hq') }, hqPort, adminToken);
        try {
          for (const store of stores) {
            const name = names.storeDatabase(store.id);
            await ensureDatabase(postgres, name);
            const db = databaseUrl(postgres, name);
            await migrate({ databaseUrl: db, target: 'store', logger });
            const env = { STORE_ID: store.id, TOPIC_PREFIX: names.storeTopicPrefix(store.id), KAFKA_BROKERS: brokerOf('store'), STORE_TIME_ZONE: opts.timeZone };
            await provisionLocalKafka(infra, 'store', env.TOPIC_PREFIX);
            const terminals = Array.from({ length: opts.terminals }, (_, t) => `T${String(t + 1).padStart(2, '0')}`);
            // The history rings up on the bakery's two tills (T01, T02), whatever --terminals says; the live tills are `terminals`.
            const { tokens, lastSequence } = await provisionTills(store.id, [...new Set([...terminals, ...HISTORY_TERMINALS])], db);
            const tills = { tokens: Object.fromEntries(terminals.map((t) => [t, tokens[t]!])), lastSequence };
            const storePool = createPool({ connectionString: db, logger, applicationName: 'tillstream-demo', max: 1 });
            const manager = await issueUserToken(storePool, { name: `demo ${store.id} manager`, role: 'store-manager' }).finally(() => storePool.end());
            managers.set(store.id, manager);
            const hqToken = await issueStoreToken(hqPool, store.id);
            const clientCert = await issueStoreCertificate(opts.certsDir, store.id);
            await recordStoreCertificate(hqPool, { storeId: store.id, serial: clientCert.serial, notAfter: clientCert.notAfter });
            const lower = store.id.toLowerCase();
            // The seeded history reaches 9 weeks back: ingest remembers transactionIds (and so accepts them) for 10.
            // A till's transaction budget is 1,000/s, not 100/s: at start no other till competes for ingest's core, and
            // the two history tills' backlogs went up in 7 s instead of 18 s (1 store, 3,820 transactions, loaded machine).
            await run(`${lower}-ingest`, 'services/ingest/src/main.ts', { ...env, ...as('ingest'), DATABASE_URL: serviceDatabaseUrl(db, 'ingest'), IDEMPOTENCY_RETENTION_DAYS: '70', TERMINAL_TRANSACTIONS_PER_SECOND: '1000' }, store.ports.ingest, manager);
            await run(
              `${lower}-inventory`,
              'services/inventory/src/main.ts',
              // The store API's one port: the dashboard, and /v1/sales and /v1/sync handed to trends and sync.
              { ...env, ...as('inventory'), DATABASE_URL: serviceDatabaseUrl(db, 'inventory'), TRENDS_URL: `https://127.0.0.1:${store.ports.trends}`, SYNC_URL: `https://127.0.0.1:${store.ports.sync}` },
              store.ports.inventory,
              manager,
            );
            await run(
              `${lower}-trends`,
              'services/trends/src/main.ts',
              {
                ...env,
                ...as('trends'),
                DATABASE_URL: serviceDatabaseUrl(db, 'trends'),
                // A demo forecasts its history within seconds of booking it (a store waits FORECAST_MIN_GAP_MS, a minute, between two
                // rounds), and scores the live tills' loss-prevention signals every 10 s rather than every minute.
                FORECAST_MIN_GAP_MS: '10000',
                LOSSPREV_SCORE_INTERVAL_SECONDS: '10',
              },
              store.ports.trends,
              manager,
            );
            await run(
              `${lower}-sync`,
              'services/sync/src/main.ts',
              {
                ...env,
                ...as('sync'),
                DATABASE_URL: serviceDatabaseUrl(db, 'sync'),
                REDIS_URL: syncRedis.toString(),
                REDIS_PASSWORD_FILE: redisPasswordFile,
                HQ_URL: `https://127.0.0.1:${hqPort}`,
                HQ_TOKEN: hqToken,
                HQ_CLIENT_CERT_FILE: clientCert.certFile,
                HQ_CLIENT_KEY_FILE: clientCert.keyFile,
                // A demo shows HQ's view within seconds; a store uploads windows and levels every 2 minutes (SYNC_COALESCE_MS).
                SYNC_COALESCE_MS: '5000',
                SYNC_BATCH_MAX_DELAY_MS: '1000',
              },
              store.ports.sync,
              manager,
            );
            simulated.push({ storeId: store.id, ingestUrl: `https://127.0.0.1:${store.ports.ingest}`, ...tills });
            seeding.push({
              storeId: store.id,
              timeZone: opts.timeZone,
              ingestUrl: `https://127.0.0.1:${store.ports.ingest}`,
              storeApiUrl: `https://127.0.0.1:${store.ports.inventory}`,
              managerToken: manager,
              terminalTokens: { T01: tokens.T01!, T02: tokens.T02! },
              weeks: opts.historyWeeks,
            });
          }
        } finally {
          await hqPool.end();
        }

        const seeded = await seedStores(seeding, logger, stopping.signal);
        for (const store of simulated) {
          // The live tills go on numbering after the history's (and after an earlier run's live sales).
          const history = seeded.find((r) => r.storeId === store.storeId)!.lastSequence;
          for (const [t, n] of Object.entries(history)) if (store.tokens[t]) store.lastSequence = { ...store.lastSequence, [t]: Math.max(store.lastSequence?.[t] ?? 0, n) };
        }
        await dashboardsPopulated(seeded, stores, managers, stopping.signal);
        logger.info({ seconds: Math.round((performance.now() - startedAt) / 100) / 10 }, 'dashboards populated (every store\'s trends booked its history): seconds since the demo started');
        await forecastsReady(seeded, stores, managers, stopping.signal);
        logger.info({ seconds: Math.round((performance.now() - startedAt) / 100) / 10 }, "forecasts made from the history and suggested orders follow them (every store's inventory has them): seconds since the demo started");

        const lines = [
          '',
          'Tillstream demo is running. Ctrl-C stops everything it started.',
          '',
          `  HQ dashboard      https://127.0.0.1:${hqPort}/`,
          `  HQ API            https://127.0.0.1:${hqPort}/v1/sales/stores  /v1/stores/health  /v1/reconciliation`,
          `  HQ admin token    ${adminToken}   (sign in to the HQ dashboard; "Authorization: Bearer <token>" for the API and POST /v1/catalog)`,
          ...stores.flatMap((s) => [
            `  ${s.id} ingest       https://127.0.0.1:${s.ports.ingest}/openapi.json`,
            `  ${s.id} dashboard    https://127.0.0.1:${s.ports.inventory}/`,
            `  ${s.id} manager token ${managers.get(s.id)!}   (sign in to the store dashboard with it as the store manager, who also sees loss prevention; Bearer token for the store API)`,
            `  ${s.id} store API    https://127.0.0.1:${s.ports.inventory}/v1/inventory/items  /v1/inventory/alerts  /v1/sales/summary  /v1/sales/top?window=today  /v1/sync/status`,
            `  ${s.id} forecasts    https://127.0.0.1:${s.ports.inventory}/v1/forecast/top  /v1/forecast/skus/<sku>  /v1/inventory/replenishment?due=today  /v1/loss-prevention/alerts`,
          ]),
          `  service logs      ${opts.logDir}`,
          `  chain CA          ${certs.ca.certFile}   (HTTPS everywhere: trust it in your browser, or curl --cacert it)`,
          '',
          `Simulating ${opts.terminals} terminals per store at ${opts.rate} transactions/s per store.`,
          ...(opts.sweetheart
            ? [
                `Planted: operator ${opts.sweetheart.operatorId} sweethearts on ${Math.round(opts.sweetheart.rate * 100)} % of their transactions (--sweetheart none: no one);`,
                "  the store manager's loss-prevention panel shows them within a minute or two of live selling.",
              ]
            : []),
        ];
        console.log(lines.join('\n'));
        // The back office while the tills sell (far faster than the bakery ever did): a sale that would take an item's last
        // unit has that item's delivery booked first, so no stock is ever booked negative (DemoBackOffice).
        const backOffices = new Map<string, DemoBackOffice>();
        for (const s of seeding) backOffices.set(s.storeId, await DemoBackOffice.open(s, seeded.find((r) => r.storeId === s.storeId)!.stockAfterHistory));
        const { tally } = await simulate({
          mode: 'synthetic',
          stores: simulated,
          rate: opts.rate,
          timeZone: opts.timeZone,
          offlineRate: 0.002,
          offlineMs: 20_000,
          maxSkewMs: 5000,
          ...(opts.sweetheart ? { sweetheart: opts.sweetheart } : {}),
          signal: stopping.signal,
          beforeRing: async (storeId, tx) => {
            const delivered = await backOffices.get(storeId)!.beforeRing(tx);
            if (delivered.size > 0) logger.info({ store: storeId, delivered: Object.fromEntries(delivered) }, 'back office: delivery booked before a sale would empty the shelf');
          },
          onError: (storeId, err) => logger.warn({ err, store: storeId }, 'back office: a delivery failed; the till sells all the same'),
        });
        logger.info({ sent: tally.sent, accepted: tally.accepted, replayed: tally.replayed, rejected: tally.rejected, abandoned: tally.abandoned }, 'simulator stopped');
      } catch (err) {
        if (!stopping.signal.aborted) throw err;
      } finally {
        await stopAll();
      }
    });
}

/**
 * Seeds every store at once (packages/simulator demo-seed.ts: deliveries and
 * item settings through the store API, the bakery's history through ingest),
 * showing progress: a bar on a terminal, a counted log line per step
 * otherwise. A second run seeds nothing twice.
 */
async function seedStores(stores: Array<Parameters<typeof seedStore>[0]>, logger: ReturnType<typeof createLogger>, signal: AbortSignal): Promise<SeedResult[]> {
  const started = performance.now();
  const done = new Map<string, { transactions: number; total: number }>();
  const bar = progressBar('seeding history through ingest');
  logger.info({ stores: stores.length }, 'seeding: opening delivery, item settings, and the bakery log\'s recent weeks through ingest with daily and weekly deliveries');
  const results = await Promise.all(
    stores.map((store) =>
      seedStore({
        ...store,
        onProgress: (p) => {
          if (signal.aborted) throw new Error('stopped while seeding');
          done.set(p.storeId, { transactions: p.transactions, total: p.totalTransactions });
          const sum = [...done.values()].reduce((a, d) => ({ transactions: a.transactions + d.transactions, total: a.total + d.total }), { transactions: 0, total: 0 });
          bar.tick(sum.transactions, p.step);
          if (!process.stderr.isTTY) logger.info({ store: p.storeId, transactions: `${p.transactions}/${p.totalTransactions}` }, `seeding: ${p.step}`);
        },
      }),
    ),
  );
  bar.done();
  for (const r of results) {
    logger.info(
      { store: r.storeId, transactions: r.transactions, accepted: r.tally.accepted, alreadyThere: r.tally.replayed, deliveriesBooked: r.deliveries.booked, deliveriesAlreadyBooked: r.deliveries.replayed, settingsChanged: r.settingsChanged },
      r.tally.accepted === 0 && r.deliveries.booked === 0 ? 'seeded already (an earlier run): nothing new booked' : 'seeded',
    );
  }
  logger.info({ seconds: Math.round((performance.now() - started) / 100) / 10 }, 'seeding done: seconds');
  return results;
}

/** Waits until each store's trends has booked its seeded history: today's and the same weekday last week's sales. */
async function dashboardsPopulated(seeded: SeedResult[], stores: Array<{ id: string; ports: StorePorts }>, managers: Map<string, string>, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (const result of seeded) {
    const store = stores.find((s) => s.id === result.storeId)!;
    const days = [...result.perDay.keys()].sort();
    const last = days[days.length - 1];
    const checks = last ? [last, new Date(Date.parse(last) - 7 * 86_400_000).toISOString().slice(0, 10)].filter((d) => result.perDay.has(d)) : [];
    for (const day of checks) {
      for (;;) {
        if (signal.aborted) throw new Error('stopped while waiting for the dashboards');
        const res = await fetch(`https://127.0.0.1:${store.ports.trends}/v1/sales/summary?businessDay=${day}`, { headers: { authorization: `Bearer ${managers.get(store.id)!}` } }).catch(() => undefined);
        const body = res?.ok ? ((await res.json()) as { figures: { transactions: number } }) : undefined;
        if (body && body.figures.transactions >= result.perDay.get(day)!) break;
        if (Date.now() > deadline) throw new Error(`${store.id}'s trends had not booked the history of ${day} after 3 minutes; see its log`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
}

/** The day before `day` (YYYY-MM-DD). */
const dayBefore = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

/**
 * Trends makes a forecasting round once more when it began within this long after a booking of past days
 * (services/trends service.ts SETTLE_MS): a round begun this long after trends booked yesterday's last sales
 * always comes.
 */
const TRENDS_FORECAST_SETTLE_MS = 5000;

/**
 * Waits until each store's trends has forecast its seeded history and its
 * inventory suggests orders from those forecasts: once trends has booked all
 * of yesterday's seeded sales (and so every day before: each till's backlog
 * arrives in order), the top forecast SKU's forecast covers the days through
 * yesterday and was begun at least TRENDS_FORECAST_SETTLE_MS after that
 * booking began (its `updatedAt`), and the store API's suggestion for that
 * SKU stands on it (basis FORECAST). A booking whose commit took longer than
 * that may let a round that missed its last batch through; trends makes
 * another one after it (FORECAST_MIN_GAP_MS later).
 */
async function forecastsReady(seeded: SeedResult[], stores: Array<{ id: string; ports: StorePorts }>, managers: Map<string, string>, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (const result of seeded) {
    const store = stores.find((s) => s.id === result.storeId)!;
    const headers = { authorization: `Bearer ${managers.get(store.id)!}` };
    const get = async <T>(path: string): Promise<T | undefined> => {
      const res = await fetch(`https://127.0.0.1:${store.ports.inventory}${path}`, { headers }).catch(() => undefined);
      return res?.ok ? ((await res.json()) as T) : undefined;
    };
    let booked: { yesterday: string; from: number } | undefined;
    for (;;) {
      if (signal.aborted) throw new Error('stopped while waiting for the forecasts');
      if (!booked) {
        const today = (await get<{ businessDay: string }>('/v1/sales/summary'))?.businessDay;
        // No history before today (--history-weeks 0 on a Monday): nothing to forecast from yet.
        if (today && ![...result.perDay.keys()].some((day) => day < today)) break;
        const yesterday = today && dayBefore(today);
        const summary = yesterday ? await get<{ figures: { transactions: number }; updatedAt: string | null }>(`/v1/sales/summary?businessDay=${yesterday}`) : undefined;
        if (yesterday && summary?.updatedAt && summary.figures.transactions >= (result.perDay.get(yesterday) ?? 0)) {
          booked = { yesterday, from: Date.parse(summary.updatedAt) + TRENDS_FORECAST_SETTLE_MS };
        }
      }
      const top = booked ? (await get<{ items: Array<{ sku: string; issuedAt: string; dataThrough: string }> }>('/v1/forecast/top?limit=1'))?.items[0] : undefined;
      if (booked && top && top.dataThrough === booked.yesterday && Date.parse(top.issuedAt) >= booked.from) {
        const suggestion = (await get<{ suggestions: Array<{ basis: string; why: { forecast: { issuedAt: string } | null } }> }>(`/v1/inventory/replenishment?sku=${encodeURIComponent(top.sku)}`))?.suggestions[0];
        if (suggestion?.basis === 'FORECAST' && suggestion.why.forecast?.issuedAt === top.issuedAt) break;
      }
      if (Date.now() > deadline) throw new Error(`${store.id}'s forecasts and suggested orders were not there 3 minutes after its history was booked; see its trends and inventory logs`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
