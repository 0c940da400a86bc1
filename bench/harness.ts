import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createLogger, progressBar } from '@tillstream/observability';
import { down, infraConfigFromEnv, up } from '@tillstream/infra';

/** Percentile of a sorted-or-not sample, in the sample's unit. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Prints rows as an aligned table: benchmarks show each figure beside its baseline. */
export function table(rows: Array<Record<string, string | number>>): string {
  const columns = Object.keys(rows[0] ?? {});
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? '').length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c] ?? ''))))].join('\n');
}

/** The progress bar of every long-running command. */
export const progress = (label: string, total?: number) => progressBar(label, total);

/** Runs `fn` with the local infrastructure up, and stops what this run started. */
export async function withInfra<T>(fn: () => Promise<T>): Promise<T> {
  const logger = createLogger({ name: 'bench', level: 'warn', pretty: true });
  const config = infraConfigFromEnv(process.env, logger);
  const started = await up(config);
  try {
    return await fn();
  } finally {
    await down(config, started);
  }
}

let built = false;

/**
 * A service's entry point as the image runs it: its build (services/<name>/dist/main.js) under plain
 * node, not its sources under tsx (whose transform adds work of its own to hot code). The workspace
 * is built first, once per bench process (tsc -b: only what changed since the last build).
 */
export function builtMain(service: string): string {
  if (!built) {
    console.log('building the workspace (npm run build: tsc -b, only what changed)...');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'inherit' });
    built = true;
  }
  return `services/${service}/dist/main.js`;
}

/** Facts about the machine, printed above every result. */
export function machine(): string {
  return `node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown cpu'})`;
}

const cleanups = new Set<() => Promise<void>>();

/**
 * Registers what must be undone if the run is interrupted (Ctrl-C, SIGTERM):
 * processes the bench started, its broker, scratch databases, state dirs.
 * Returns the function that unregisters it once done normally.
 */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs every registered cleanup, newest first (each at most once, errors reported and passed over). */
export async function runInterruptCleanups(): Promise<void> {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    await cleanup().catch((err: unknown) => console.error(`bench cleanup: ${(err as Error).message}`));
  }
}

/** Median and range of a run's repeated figures. */
export function spread(values: number[]): { median: number; min: number; max: number } {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN };
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, min: s[0]!, max: s[s.length - 1]! };
}

/** "median (min–max)" of repeated figures, or the one figure; `digits` after the point. */
export function formatSpread(values: number[], digits = 0): string {
  const { median, min, max } = spread(values.filter((v) => Number.isFinite(v)));
  if (!Number.isFinite(median)) return 'n/a';
  const f = (v: number) => v.toFixed(digits);
  return values.length > 1 ? `${f(median)} (${f(min)}–${f(max)})` : f(median);
}
