import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { access, constants, cp, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { delimiter, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { infraConfigFromEnv } from '@tillstream/infra';
import { benchLogger } from './store-data.ts';

/**
 * The Kafka Streams peer of inventory and trends (../shared/peers/kstreams,
 * Java 17 + Maven): located, copied to the cache outside git, built there once
 * per version of its sources, and run against a topic the bench filled. Its
 * code is never changed: everything goes through PeerApp's arguments.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where the peer's sources are: BENCH_PEER_DIR, else ../shared/peers/kstreams beside the checkout. */
export const peerSourceDir = () => resolve(process.env.BENCH_PEER_DIR ?? join(ROOT, '..', 'shared', 'peers', 'kstreams'));

/** Whether `command` is an executable on PATH. */
async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Why the peer cannot run here (no java, no mvn, no sources), or undefined when it can. */
export async function peerUnavailable(): Promise<string | undefined> {
  if (process.env.BENCH_PEER === 'off') return 'BENCH_PEER=off';
  const missing = [];
  if (!(await onPath('java'))) missing.push('java');
  if (!(await onPath('mvn'))) missing.push('mvn');
  if (missing.length) return `${missing.join(' and ')} not found on PATH`;
  if (!existsSync(join(peerSourceDir(), 'pom.xml'))) return `no peer sources at ${peerSourceDir()} (set BENCH_PEER_DIR)`;
  return undefined;
}

/** What the build reads: pom.xml and src/ (not target/, runs/ or state/ a manual run may have left). */
async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(dir, p));
    }
  };
  await walk(join(dir, 'src'));
  return ['pom.xml', ...out.sort()];
}

/** A short hash of the peer's sources (names and contents): an unchanged peer is not rebuilt. */
export async function peerSourceHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of await sourceFiles(dir)) {
    h.update(`${f}\0`);
    h.update(await readFile(join(dir, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * The peer's jar, built in <cache>/peers/kstreams-<hash> with `mvn -q -B
 * package` (which runs its topology tests) unless that folder already holds
 * it. `tick` is called every second with the seconds elapsed, for a progress line.
 */
export async function buildPeer(tick: (seconds: number) => void): Promise<string> {
  const source = peerSourceDir();
  const config = infraConfigFromEnv(process.env, benchLogger);
  const dir = join(config.cacheDir, 'peers', `kstreams-${await peerSourceHash(source)}`);
  const jar = join(dir, 'target', 'kstreams-peer.jar');
  if (existsSync(jar)) return jar;
  // Built in a scratch copy and renamed into place, so an interrupted build never looks finished.
  const scratch = `${dir}.building-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    await cp(join(source, 'pom.xml'), join(scratch, 'pom.xml'));
    await cp(join(source, 'src'), join(scratch, 'src'), { recursive: true });
    const log = join(scratch, 'build.log');
    const out = openSync(log, 'w');
    const started = performance.now();
    const timer = setInterval(() => tick(Math.round((performance.now() - started) / 1000)), 1000);
    const code = await new Promise<number | null>((done, fail) => {
      const child = spawn('mvn', ['-q', '-B', 'package'], { cwd: scratch, stdio: ['ignore', out, out] });
      child.once('error', fail);
      child.once('exit', done);
    }).finally(() => {
      clearInterval(timer);
      closeSync(out);
    });
    if (code !== 0) {
      const tail = (await readFile(log, 'utf8')).trim().split('\n').slice(-15).join('\n');
      throw new Error(`building the Kafka Streams peer failed (mvn exit ${code}):\n${tail}`);
    }
    await rm(dir, { recursive: true, force: true });
    await rename(scratch, dir);
    return jar;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The RESULT line PeerApp prints on stdout when it finished and verified its stores. */
export interface PeerResult {
  mode: string;
  guarantee: string;
  records: number;
  lines: number;
  /** First record read -> every stage processed and committed. */
  seconds: number;
  linesPerS: number;
  /** From KafkaStreams.start(), including the group join. */
  secondsInclStart: number;
  /** From the JVM's start (its RuntimeMXBean start time). */
  secondsInclJvm: number;
  /** The JVM's CPU (RocksDB's native threads included) from the first record to the finish. */
  cpuS: number;
  cpuUsPerLine: number;
  gcMs: number;
  heapMaxMb: number;
  peakRssMb: number;
  outLevels: number;
  outWindows: number;
  verified: string;
}

/** Parses PeerApp's `RESULT k=v k=v ...` line; throws on a line that is not one or lacks a field. */
export function parsePeerResult(line: string): PeerResult {
  if (!line.startsWith('RESULT ')) throw new Error(`not a peer RESULT line: ${line.slice(0, 80)}`);
  const f = new Map(
    line
      .slice(7)
      .trim()
      .split(/\s+/)
      .map((kv) => {
        const eq = kv.indexOf('=');
        return [kv.slice(0, eq), kv.slice(eq + 1)] as const;
      }),
  );
  const text = (k: string) => {
    const v = f.get(k);
    if (v === undefined || v === '') throw new Error(`peer RESULT line has no ${k}`);
    return v;
  };
  const num = (k: string) => {
    const v = Number(text(k));
    if (!Number.isFinite(v)) throw new Error(`peer RESULT ${k}=${f.get(k)} is not a number`);
    return v;
  };
  return {
    mode: text('mode'),
    guarantee: text('guarantee'),
    records: num('records'),
    lines: num('lines'),
    seconds: num('seconds'),
    linesPerS: num('lines_per_s'),
    secondsInclStart: num('seconds_incl_start'),
    secondsInclJvm: num('seconds_incl_jvm'),
    cpuS: num('cpu_s'),
    cpuUsPerLine: num('cpu_us_per_line'),
    gcMs: num('gc_ms'),
    heapMaxMb: num('heap_max_mb'),
    peakRssMb: num('peak_rss_mb'),
    outLevels: num('out_levels'),
    outWindows: num('out_windows'),
    verified: text('verified'),
  };
}

export interface PeerRun {
  child: ChildProcess;
  /** Date.now() when the JVM was spawned (its start time, give or take the fork). */
  spawnedAt: number;
  /** Resolves with the RESULT once the JVM exited 0 having printed it and verified OK. */
  result: Promise<PeerResult>;
}

export interface PeerOptions {
  jar: string;
  bootstrap: string;
  input: string;
  appId: string;
  mode: 'inventory' | 'trends';
  stateDir: string;
  logFile: string;
  heap?: string;
  threads?: number;
  guarantee?: string;
}

/**
 * Starts PeerApp: EOS v2, 512 MB heap, 1 stream thread unless told otherwise
 * (BENCH_PEER_HEAP, BENCH_PEER_THREADS, BENCH_PEER_GUARANTEE; BENCH_PEER_TIMEOUT_S, default
 * 7200, is how long it may take). Its stderr
 * (progress, checks) goes to `logFile`.
 */
export function startPeer(o: PeerOptions): PeerRun {
  const heap = o.heap ?? process.env.BENCH_PEER_HEAP ?? '512m';
  const args = [
    `-Xmx${heap}`,
    '-cp',
    o.jar,
    'peer.PeerApp',
    '--bootstrap',
    o.bootstrap,
    '--input',
    o.input,
    '--app-id',
    o.appId,
    '--mode',
    o.mode,
    '--guarantee',
    o.guarantee ?? process.env.BENCH_PEER_GUARANTEE ?? 'exactly_once_v2',
    '--state-dir',
    o.stateDir,
    '--threads',
    String(o.threads ?? Number(process.env.BENCH_PEER_THREADS ?? 1)),
    '--time-zone',
    'UTC',
    '--store-id',
    'S001',
    // PeerApp gives up after 1,200 s by default: too short for a million lines on a busy machine.
    '--timeout-s',
    process.env.BENCH_PEER_TIMEOUT_S ?? '7200',
  ];
  const err = openSync(o.logFile, 'a');
  const spawnedAt = Date.now();
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', err] });
  closeSync(err);
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const result = new Promise<PeerResult>((done, fail) => {
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      // The log goes with the bench's scratch folder: its last lines go into the error.
      const tail = () => {
        try {
          return `:\n${readFileSync(o.logFile, 'utf8').trim().split('\n').slice(-12).join('\n')}`;
        } catch {
          return '';
        }
      };
      if (code !== 0 || !line) return fail(new Error(`Kafka Streams peer exited with ${code ?? signal}${line ? '' : ' without a RESULT'}${tail()}`));
      try {
        const r = parsePeerResult(line);
        if (r.verified !== 'OK') return fail(new Error(`Kafka Streams peer's results do not add up (verified=${r.verified})${tail()}`));
        done(r);
      } catch (e) {
        fail(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
  return { child, spawnedAt, result };
}

/** SIGTERM (the JVM's shutdown hooks run), SIGKILL after 15 s; resolves when it is gone. */
export async function stopPeer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
