import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { createPool, databaseUrl, ensureDatabase, issueStoreToken, migrate } from '@tillstream/db';
import { down, ensureKafkaCredentials, isPortFree, localKafkaSecurityEnv, provisionLocalKafka, startProcess, stopProcess, up } from '@tillstream/infra';
import { createLogger } from '@tillstream/observability';
import { simulate, type SimulatedStore } from '@tillstream/simulator';
import { cliEnv, infraConfig } from '../env.ts';
import { provisionTills } from './simulate.ts';

function count(what: string, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${what} must be an integer from 1 to ${max}`);
    return n;
  };
}

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
    .option('--base-port <port>', 'store n listens on base+100n .. base+100n+3, HQ on base+10', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1024 || n > 64_000) throw new InvalidArgumentError('--base-port must be an integer from 1024 to 64000');
      return n;
    }, 8080)
    .option('--namespace <ns>', 'keep this demo apart from the default one: databases tillstream_<ns>_*, topics <ns>.*', (v) => {
      if (!/^[a-z][a-z0-9_]{0,30}$/.test(v)) throw new InvalidArgumentError('--namespace must be 1-31 lower-case letters, digits or "_", starting with a letter');
      return v;
    })
    .action(async (opts: { stores: number; terminals: number; rate: number; timeZone: string; logDir: string; basePort: number; namespace?: string }) => {
      const logger = createLogger({ name: 'demo', level: 'info', pretty: true });
      const names = demoNames(opts.namespace);
      const hqPort = opts.basePort + 10;
      const stores = Array.from({ length: opts.stores }, (_, i) => ({ id: `S${String(i + 1).padStart(3, '0')}`, ports: portsOf(opts.basePort, i) }));
      const busy: number[] = [];
      for (const port of [hqPort, ...stores.flatMap(({ ports: p }) => [p.ingest, p.inventory, p.trends, p.sync])]) if (!(await isPortFree(port))) busy.push(port);
      if (busy.length) throw new Error(`port(s) ${busy.join(', ')} in use: is a demo or a service already running? Stop it first.`);
      mkdirSync(opts.logDir, { recursive: true });

      const stopping = new AbortController();
      const children: ChildProcess[] = [];
      const infra = infraConfig(logger);
      const brokerOf = (name: 'store' | 'hq') => `127.0.0.1:${infra.brokers.find((b) => b.name === name)!.port}`;
      let started: Awaited<ReturnType<typeof up>> | undefined;
      const stopAll = async () => {
        for (const child of children.reverse()) await stopProcess(child);
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
        const server = infra.postgresUrl;
        const hqDb = databaseUrl(server, names.hqDatabase);
        await ensureDatabase(server, names.hqDatabase);
        await migrate({ databaseUrl: hqDb, target: 'hq', logger });
        const hqPool = createPool({ connectionString: hqDb, logger, applicationName: 'tillstream-demo', max: 1 });
        const adminToken = `demo-admin-${randomBytes(12).toString('hex')}`;
        const simulated: SimulatedStore[] = [];
        const common = { LOG_LEVEL: 'info', REDIS_URL: infra.redisUrl };
        const run = async (name: string, script: string, env: Record<string, string>, port: number) => {
          if (stopping.signal.aborted) throw new Error('stopped while starting');
          logger.info({ process: name, port }, 'starting');
          children.push(await startProcess(script, { ...common, ...env, PORT: String(port) }, `http://127.0.0.1:${port}/readyz`, { logFile: join(opts.logDir, `${name}.log`), timeoutMs: 120_000 }));
        };

        await run('hq', 'services/hq/src/main.ts', { DATABASE_URL: hqDb, HQ_KAFKA_BROKERS: brokerOf('hq'), HQ_TOPIC_PREFIX: names.hqTopicPrefix, HQ_ADMIN_TOKEN: adminToken, ...as('hq') }, hqPort);
        try {
          for (const store of stores) {
            const name = names.storeDatabase(store.id);
            await ensureDatabase(server, name);
            const db = databaseUrl(server, name);
            const env = { STORE_ID: store.id, DATABASE_URL: db, TOPIC_PREFIX: names.storeTopicPrefix(store.id), KAFKA_BROKERS: brokerOf('store'), STORE_TIME_ZONE: opts.timeZone };
            await provisionLocalKafka(infra, 'store', env.TOPIC_PREFIX);
            const terminals = Array.from({ length: opts.terminals }, (_, t) => `T${String(t + 1).padStart(2, '0')}`);
            const tills = await provisionTills(store.id, terminals, db);
            const hqToken = await issueStoreToken(hqPool, store.id);
            const lower = store.id.toLowerCase();
            await run(`${lower}-ingest`, 'services/ingest/src/main.ts', { ...env, ...as('ingest') }, store.ports.ingest);
            await run(
              `${lower}-inventory`,
              'services/inventory/src/main.ts',
              // The store API's one port: the dashboard, and /v1/sales and /v1/sync handed to trends and sync.
              { ...env, ...as('inventory'), TRENDS_URL: `http://127.0.0.1:${store.ports.trends}`, SYNC_URL: `http://127.0.0.1:${store.ports.sync}` },
              store.ports.inventory,
            );
            await run(`${lower}-trends`, 'services/trends/src/main.ts', { ...env, ...as('trends') }, store.ports.trends);
            await run(`${lower}-sync`, 'services/sync/src/main.ts', { ...env, ...as('sync'), HQ_URL: `http://127.0.0.1:${hqPort}`, HQ_TOKEN: hqToken }, store.ports.sync);
            simulated.push({ storeId: store.id, ingestUrl: `http://127.0.0.1:${store.ports.ingest}`, ...tills });
          }
        } finally {
          await hqPool.end();
        }

        const lines = [
          '',
          'Tillstream demo is running. Ctrl-C stops everything it started.',
          '',
          `  HQ dashboard      http://127.0.0.1:${hqPort}/`,
          `  HQ API            http://127.0.0.1:${hqPort}/v1/sales/stores  /v1/stores/health  /v1/reconciliation`,
          `  HQ admin token    ${adminToken}   (POST /v1/catalog)`,
          ...stores.flatMap((s) => [
            `  ${s.id} ingest       http://127.0.0.1:${s.ports.ingest}/openapi.json`,
            `  ${s.id} dashboard    http://127.0.0.1:${s.ports.inventory}/`,
            `  ${s.id} store API    http://127.0.0.1:${s.ports.inventory}/v1/inventory/items  /v1/inventory/alerts  /v1/sales/summary  /v1/sales/top?window=today  /v1/sync/status`,
          ]),
          `  service logs      ${opts.logDir}`,
          '',
          `Simulating ${opts.terminals} terminals per store at ${opts.rate} transactions/s per store.`,
        ];
        console.log(lines.join('\n'));
        const { tally } = await simulate({
          mode: 'synthetic',
          stores: simulated,
          rate: opts.rate,
          timeZone: opts.timeZone,
          offlineRate: 0.002,
          offlineMs: 20_000,
          maxSkewMs: 5000,
          signal: stopping.signal,
        });
        logger.info({ sent: tally.sent, accepted: tally.accepted, replayed: tally.replayed, rejected: tally.rejected, abandoned: tally.abandoned }, 'simulator stopped');
      } catch (err) {
        if (!stopping.signal.aborted) throw err;
      } finally {
        await stopAll();
      }
    });
}
