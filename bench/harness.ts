import { availableParallelism, cpus } from 'node:os';
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
export const progress = (label: string, total: number) => progressBar(label, total);

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

/** Facts about the machine, printed above every result. */
export function machine(): string {
  return `node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown cpu'})`;
}
