import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, fetch } from 'undici';
import { hqTopics, storeTopics } from '@tillstream/contracts';
import { CLUSTER_PROFILES, deleteTopics, ensureTopics } from '@tillstream/kafka';
import { freePort } from '@tillstream/testing';
import { table } from './harness.ts';
import { localKafka } from './kafka.ts';
import { benchLogger as logger, scratchDatabase } from './store-data.ts';
import { benchHqEnv, benchTls } from './tls.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 3);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** How a service's process is started: as development and the tests run it, and as the image does. */
const RUNTIMES = {
  'tsx (src)': (service: string) => ['--conditions=development', '--import', 'tsx', `services/${service}/src/main.ts`],
  'node (dist)': (service: string) => [`services/${service}/dist/main.js`],
} as const;

/** Resident memory of a process and its descendants (tsx's esbuild runs as a child), and the node process's peak, in MiB (Linux /proc). */
async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = async (p: number) => {
    const text = await readFile(`/proc/${p}/status`, 'utf8').catch(() => '');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  };
  const descendants = async (p: number): Promise<number[]> => {
    const tasks = await import('node:fs/promises').then((fs) => fs.readdir(`/proc/${p}/task`).catch(() => [] as string[]));
    const children = (await Promise.all(tasks.map((t) => readFile(`/proc/${p}/task/${t}/children`, 'utf8').catch(() => ''))))
      .join(' ')
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return [...children, ...(await Promise.all(children.map(descendants))).flat()];
  };
  const own = await status(pid);
  const others = await Promise.all((await descendants(pid)).map(status));
  return { rss: (own.rss + others.reduce((sum, s) => sum + s.rss, 0)) / 1024, peak: own.peak / 1024 };
}

/** Starts one process and times it until /healthz answers 200 (polled every 10 ms); returns its memory then, and stops it. */
async function startOnce(args: string[], env: Record<string, string>, healthz: string, dispatcher: Agent): Promise<{ ms: number; rss: number; peak: number }> {
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      if (performance.now() - started > 120_000) throw new Error(`${args.join(' ')}: no answer on ${healthz} within 120 s`);
      const ok = await fetch(healthz, { dispatcher }).then(
        async (res) => (await res.arrayBuffer(), res.ok),
        () => false,
      );
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const ms = performance.now() - started;
    return { ms, ...(await memory(child.pid!)) };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Each service started BENCH_STARTUP_RUNS times (default 3) from its
 * TypeScript under tsx and from the JavaScript `npm run build` emitted under
 * plain node, alternately, against the local infrastructure: time from spawn
 * until GET /healthz answers 200, and resident memory then. Needs `npm run
 * build` first.
 */
export async function startupBench(): Promise<string> {
  const services = ['ingest', 'inventory', 'trends', 'sync', 'hq'];
  const missing = services.filter((s) => !existsSync(`${ROOT}services/${s}/dist/main.js`));
  if (missing.length) throw new Error(`no dist/main.js for ${missing.join(', ')}: run \`npm run build\` first`);

  const store = localKafka('store');
  const hq = localKafka('hq');
  const storeKafka = store.client('bench-startup');
  const hqKafka = hq.client('bench-startup-hq');
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka: storeKafka, logger, prefix, specs: storeTopics });
  await store.grant('store', prefix);
  await ensureTopics({ placement: CLUSTER_PROFILES['single-broker'], kafka: hqKafka, logger, prefix, specs: hqTopics });
  await hq.grant('hq', prefix);
  const storeDb = await scratchDatabase('startup');
  const hqDb = await scratchDatabase('startup_hq', 'hq');
  const tls = await benchTls();
  const s001 = await tls.storeClient('S001');
  const dispatcher = new Agent({ connect: { ca: await readFile(tls.caFile, 'utf8') } });
  try {
    const storeEnv = { STORE_ID: 'S001', STORE_TIME_ZONE: 'UTC', DATABASE_URL: storeDb.url, TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' };
    const envOf = (service: string, port: number): Record<string, string> => {
      switch (service) {
        case 'sync':
          // HQ is not running: sync starts, and would retry its uploads.
          return { ...storeEnv, ...store.serviceEnv('sync'), PORT: String(port), REDIS_URL, SYNC_QUEUE: `bench-startup-${randomUUID().slice(0, 8)}`, HQ_URL: 'https://127.0.0.1:9', HQ_TOKEN: 'bench', HQ_CLIENT_CERT_FILE: s001.certFile, HQ_CLIENT_KEY_FILE: s001.keyFile, HQ_CA_FILE: tls.caFile };
        case 'hq':
          return benchHqEnv(tls, { kafkaEnv: hq.serviceEnv('hq'), prefix, databaseUrl: hqDb.url, port });
        default:
          return { ...storeEnv, ...store.serviceEnv(service as 'ingest' | 'inventory' | 'trends'), PORT: String(port) };
      }
    };
    const rows: Array<Record<string, string | number>> = [];
    for (const service of services) {
      const samples: Record<string, Array<{ ms: number; rss: number; peak: number }>> = {};
      for (let run = 0; run < RUNS; run++) {
        for (const [runtime, args] of Object.entries(RUNTIMES)) {
          const port = await freePort();
          const healthz = `${service === 'hq' ? 'https' : 'http'}://127.0.0.1:${port}/healthz`;
          (samples[runtime] ??= []).push(await startOnce(args(service), envOf(service, port), healthz, dispatcher));
        }
      }
      for (const [runtime, runs] of Object.entries(samples)) {
        rows.push({
          service,
          runtime,
          'to /healthz ms (median)': Math.round(median(runs.map((r) => r.ms))),
          'min..max ms': `${Math.round(Math.min(...runs.map((r) => r.ms)))}..${Math.round(Math.max(...runs.map((r) => r.ms)))}`,
          'RSS MiB then (median)': Math.round(median(runs.map((r) => r.rss))),
          'node peak RSS MiB': Math.round(median(runs.map((r) => r.peak))),
        });
      }
    }
    return `${RUNS} starts per service and runtime, alternating; RSS counts the process and its children (tsx's esbuild)\n${table(rows)}`;
  } finally {
    await dispatcher.close();
    await storeDb.drop();
    await hqDb.drop();
    await deleteTopics(storeKafka, storeTopics.flatMap((t) => [`${prefix}${t.name}`, `${prefix}${t.name}.dlq`])).catch(() => undefined);
    await deleteTopics(hqKafka, hqTopics.flatMap((t) => [`${prefix}${t.name}`, `${prefix}${t.name}.dlq`])).catch(() => undefined);
  }
}
