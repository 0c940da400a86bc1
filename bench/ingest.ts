import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { parseEnv, postgresServerEnv } from '@tillstream/config';
import { posTransactions } from '@tillstream/contracts';
import { createPool, databaseUrl, dropDatabase, ensureDatabase, issueTerminalToken, issueUserToken, migrate } from '@tillstream/db';
import { CLUSTER_PROFILES, deleteTopics, ensureTopics } from '@tillstream/kafka';
import { createLogger } from '@tillstream/observability';
import { makeTransaction, startProcess, stopProcess } from '@tillstream/testing';
import { table } from './harness.ts';
import { openModelLoad } from './open-model.ts';
import { cpuMillis } from './processes.ts';
import { withListenerPair, type BenchKafka } from './kafka.ts';
import { benchTls } from './tls.ts';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const SERVER = parseEnv(postgresServerEnv, process.env).POSTGRES_URL;
const INGEST_PORT = 18080;
const INGEST_TLS_PORT = 18082;
const NOOP_PORT = 18079;

/** A body template with a placeholder id, so each request is a new transaction at no cost. */
function template(): string {
  const tx = makeTransaction([{ sku: 'BREAD', quantity: 2, unitPrice: 180 }, { sku: 'COFFEE', unitPrice: 250, discount: 20 }, { sku: 'BAG', unitPrice: 10 }]);
  return JSON.stringify({ ...tx, transactionId: '00000000-0000-4000-8000-000000000000' });
}
const withId = (t: string) => t.replace('00000000-0000-4000-8000-000000000000', randomUUID());

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

/** autocannon at full speed (closed model: each connection sends when the last answer came). */

async function load(options: { url: string; token?: string; body: () => string; connections: number; seconds?: number }): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: 'POST',
    connections: options.connections,
    duration: options.seconds ?? DURATION_S,
    headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    requests: [{ setupRequest: (req) => ({ ...req, body: options.body() }) }],
  });
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** (b): kafkajs alone, idempotent acks=all, 500 records per request, same record size and topic settings. */
async function rawProducer(target: BenchKafka, prefix: string, body: string): Promise<{ rps: number }> {
  const logger = createLogger({ name: 'bench', level: 'error' });
  const kafka = target.client('bench-raw');
  const spec = { ...posTransactions, name: 'raw.pos.transactions.v1' };
  await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka, logger, prefix, specs: [spec], deadLetter: false });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let sent = 0;
  const started = performance.now();
  const until = started + DURATION_S * 1000;
  while (performance.now() < until) {
    const messages = Array.from({ length: 500 }, (_, i) => ({ key: `S001:T${i % 8}`, value: withId(body) }));
    await producer.send({ topic: `${prefix}${spec.name}`, acks: -1, messages });
    sent += messages.length;
  }
  const rps = sent / ((performance.now() - started) / 1000);
  await producer.disconnect();
  await deleteTopics(kafka, [`${prefix}${spec.name}`]);
  return { rps };
}

/**
 * Ingest against an express no-op and raw kafkajs, on two brokers of the
 * bench's own: PLAINTEXT, and SASL_SSL (SCRAM-SHA-512, ACLs) with ingest
 * connecting as its own principal, as the infra tool runs it. (a) is the
 * same for both; (b)-(d) run on each, so the table shows what security costs
 * on the produce path beside what it costs nothing.
 */
export async function ingestBench(): Promise<string> {
  const logger = createLogger({ name: 'bench', level: 'warn' });
  const dbName = `bench_${randomUUID().slice(0, 8)}`;
  await ensureDatabase(SERVER, dbName);
  const dbUrl = databaseUrl(SERVER, dbName);
  await migrate({ databaseUrl: dbUrl, target: 'store', logger });
  const pool = createPool({ connectionString: dbUrl, logger, applicationName: 'bench', max: 1 });
  const token = await issueTerminalToken(pool, { storeId: 'S001', terminalId: 'T01' });
  // /readyz wants a store viewer's token.
  const viewer = await issueUserToken(pool, { name: 'bench', role: 'store-viewer' });
  await pool.end();
  const readyHeaders = { authorization: `Bearer ${viewer}` };
  const body = template();
  const batchBody = () => `{"transactions":[${Array.from({ length: 500 }, () => withId(body)).join(',')}]}`;
  const rows: Array<Record<string, string | number>> = [];
  // CPU per transaction of the server process: far steadier than throughput on a shared VM.
  const measured = async <R extends LoadResult>(pid: number | undefined, run: () => Promise<R>) => {
    const before = pid ? await cpuMillis(pid) : 0;
    const result = await run();
    const cpu = pid ? (await cpuMillis(pid)) - before : NaN;
    return { ...result, cpu };
  };
  const row = (name: string, listener: string, r: LoadResult & { cpu: number }, unit = 1) =>
    rows.push({
      run: name,
      listener,
      'transactions/s': Math.round(r.rps * unit),
      'p50 ms': r.p50,
      'p99 ms': r.p99,
      'max ms': r.max,
      'server CPU µs/tx': Math.round((r.cpu * 1000) / (r.requests * unit)),
      requests: r.requests,
      'non-2xx': r.non2xx,
      errors: r.errors,
    });
  const perTx = (r: LoadResult & { cpu: number }, unit = 1) => (r.cpu * 1000) / (r.requests * unit);

  // On the SASL_SSL broker a second ingest serves HTTPS (a throwaway CA) beside the plain one: the same run measures what TLS costs terminals.
  const tls = await benchTls();
  const noop = await startProcess('bench/noop-server.ts', { PORT: String(NOOP_PORT) }, `http://127.0.0.1:${NOOP_PORT}/healthz`);
  try {
    const a = await measured(noop.pid, () => load({ url: `http://127.0.0.1:${NOOP_PORT}/v1/transactions`, body: () => withId(body), connections: 50 }));
    row('(a) express no-op JSON POST, 50 connections', '-', a);
    const a500 = await measured(noop.pid, () =>
      openModelLoad({ url: `http://127.0.0.1:${NOOP_PORT}/v1/transactions`, rate: 500, seconds: DURATION_S, headers: { 'content-type': 'application/json' }, body: () => withId(body) }),
    );
    row('(a) express no-op, open model, fixed 500/s', '-', a500);
    const summary: string[] = [];
    await withListenerPair(async (pair) => {
      for (const target of pair) {
        const prefix = `bench-${randomUUID().slice(0, 8)}.`;
        const admin = target.client('bench-provision');
        // Provisioned as a store is: the topic by the admin, ingest's ACLs for the prefix.
        await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka: admin, logger, prefix, specs: [posTransactions] });
        await target.grant('store', prefix);
        const ingestEnv = {
          STORE_ID: 'S001',
          DATABASE_URL: dbUrl,
          TOPIC_PREFIX: prefix,
          PORT: String(INGEST_PORT),
          LOG_LEVEL: 'warn',
          ...target.serviceEnv('ingest'),
          // Ingest's own settings can be varied per run, e.g. GROUP_COMMIT_LINGER_MS=5 npm run bench -- ingest
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('GROUP_COMMIT_') || k === 'PRODUCE_TIMEOUT_MS').map(([k, v]) => [k, v ?? ''])),
          // One token carries the whole load: its per-terminal budgets (requests, transactions, bytes) must not be
          // what is measured (a 429 answers in microseconds and would count as throughput).
          TERMINAL_RATE_PER_SECOND: '1000000',
          TERMINAL_RATE_BURST: '1000000',
          TERMINAL_TRANSACTIONS_PER_SECOND: '1000000',
          TERMINAL_TRANSACTIONS_BURST: '1000000',
          TERMINAL_BYTES_PER_SECOND: '1000000000',
          TERMINAL_BYTES_BURST: '1000000000',
          MAX_IN_FLIGHT_PER_TERMINAL: '10000',
        };
        // e.g. SERVICE_NODE_ARGS=--cpu-prof (as for the consumer benches; NODE_OPTIONS refuses it)
        const nodeArgs = process.env.SERVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
        const withHttps = target.listener === 'SASL_SSL';
        const ingest = await startProcess('services/ingest/src/main.ts', ingestEnv, `http://127.0.0.1:${INGEST_PORT}/readyz`, { nodeArgs, readyHeaders });
        const ingestTls = withHttps
          ? await startProcess(
              'services/ingest/src/main.ts',
              { ...ingestEnv, PORT: String(INGEST_TLS_PORT), TLS_CERT_FILE: tls.server.certFile, TLS_KEY_FILE: tls.server.keyFile },
              `https://127.0.0.1:${INGEST_TLS_PORT}/readyz`,
              { nodeArgs, readyHeaders },
            ).catch(async (err: unknown) => {
              await stopProcess(ingest);
              throw err;
            })
          : undefined;
        try {
          const ingestUrl = `http://127.0.0.1:${INGEST_PORT}/v1/transactions`;
          // Warm-up: JIT, pools, producer metadata.
          await load({ url: ingestUrl, token, body: () => withId(body), connections: 10, seconds: 3 });
          const raw = await rawProducer(target, prefix, body);
          rows.push({ run: '(b) raw kafkajs producer, 500/request', listener: target.listener, 'transactions/s': Math.round(raw.rps), 'p50 ms': '-', 'p99 ms': '-', 'max ms': '-', 'server CPU µs/tx': '-', requests: '-', 'non-2xx': '-', errors: '-' });
          const c = await measured(ingest.pid, () => load({ url: ingestUrl, token, body: () => withId(body), connections: 50 }));
          row('(c) ingest single POSTs, 50 connections', target.listener, c);
          const c500 = await measured(ingest.pid, () =>
            openModelLoad({ url: ingestUrl, rate: 500, seconds: DURATION_S, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: () => withId(body) }),
          );
          row('(c) ingest single POSTs, open model, fixed 500/s', target.listener, c500);
          const d = await measured(ingest.pid, () => load({ url: `${ingestUrl}/batch`, token, body: batchBody, connections: 4 }));
          row('(d) ingest batch endpoint, 500/request, 4 connections', target.listener, d, 500);
          summary.push(
            `${target.listener}: (c)/(a) throughput ${((c.rps / a.rps) * 100).toFixed(0)}% (target >= 80%); (c) p99 at a fixed 500/s (open model): ${c500.p99} ms, p90 ${c500.p90} ms (target p99 <= 25 ms); (d): ${Math.round(d.rps * 500)} transactions/s (target >= 20000)`,
          );
          if (ingestTls) {
            // The same over HTTPS, keep-alive (autocannon reuses its connections: one handshake each, then
            // the per-request cost is the record layer). Warmed up as the plain one was.
            const tlsUrl = `https://127.0.0.1:${INGEST_TLS_PORT}/v1/transactions`;
            await load({ url: tlsUrl, token, body: () => withId(body), connections: 10, seconds: 3 });
            const cTls = await measured(ingestTls.pid, () => load({ url: tlsUrl, token, body: () => withId(body), connections: 50 }));
            row('(c) ingest single POSTs over HTTPS (keep-alive), 50 connections', target.listener, cTls);
            const dTls = await measured(ingestTls.pid, () => load({ url: `${tlsUrl}/batch`, token, body: batchBody, connections: 4 }));
            row('(d) ingest batch endpoint over HTTPS (keep-alive), 500/request, 4 connections', target.listener, dTls, 500);
            summary.push(
              `HTTPS cost (${target.listener}, same run): single POSTs ${((cTls.rps / c.rps) * 100).toFixed(0)}% of plain throughput, +${Math.round(perTx(cTls) - perTx(c))} µs server CPU per transaction; batches ${((dTls.rps / d.rps) * 100).toFixed(0)}% of plain, +${Math.round(perTx(dTls, 500) - perTx(d, 500))} µs per transaction`,
            );
          }
        } finally {
          if (ingestTls) await stopProcess(ingestTls);
          await stopProcess(ingest);
          await deleteTopics(admin, [`${prefix}pos.transactions.v1`, `${prefix}pos.transactions.v1.dlq`]);
        }
      }
    });
    return `${table(rows)}\n\n${summary.join('\n')}`;
  } finally {
    await stopProcess(noop);
    await tls.close();
    await dropDatabase(SERVER, dbName);
  }
}
