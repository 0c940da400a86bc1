import { readdir, readFile } from 'node:fs/promises';

/**
 * CPU time of processes from Linux /proc, for the figures "CPU per line" of
 * a service, of PostgreSQL and of the broker. Clock ticks are taken as
 * 100/s (USER_HZ on every Linux the project runs on; processes.ts does the same).
 */

const TICK_MS = 10;

/** The fields of /proc/<pid>/stat a CPU reading needs (times in ms). */
export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime: what the process itself has used. */
  ownMs: number;
  /** cutime + cstime: what its children that it has waited for used (a postmaster's reaped backends). */
  childrenMs: number;
}

/**
 * Parses one /proc/<pid>/stat line. The command name is in parentheses and may
 * itself hold spaces and parentheses, so the fields are counted from the last ")".
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17); rest[0] is field 3.
  const field = (n: number) => {
    const v = Number(rest[n - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc/${pid}/stat: field ${n} is not a number`);
    return v;
  };
  return { pid, comm: text.slice(open + 1, close), ppid: field(4), ownMs: (field(14) + field(15)) * TICK_MS, childrenMs: (field(16) + field(17)) * TICK_MS };
}

async function readStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone meanwhile
  }
}

/** CPU ms a process has used so far (undefined once it is gone). */
export async function processCpuMs(pid: number): Promise<number | undefined> {
  return (await readStat(pid))?.ownMs;
}

/**
 * CPU ms the whole PostgreSQL server has used so far: every process named
 * postgres (postmaster, backends, WAL writer, checkpointer, background
 * writer, autovacuum) plus what the postmaster's exited children used (their
 * time is added to its cutime/cstime when it reaps them), so a backend that
 * ends between two readings is still counted. The postmaster is the postgres
 * process whose parent is not one.
 */
export function postgresCpuMs(stats: ProcStat[]): number {
  const postgres = stats.filter((s) => s.comm === 'postgres' || s.comm === 'postmaster');
  const pids = new Set(postgres.map((s) => s.pid));
  return postgres.reduce((sum, s) => sum + s.ownMs + (pids.has(s.ppid) ? 0 : s.childrenMs), 0);
}

/** Every process's stat line; `filter` on the command name keeps the reads few. */
async function allStats(): Promise<ProcStat[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  const stats = await Promise.all(pids.map(readStat));
  return stats.filter((s): s is ProcStat => s !== undefined);
}

/** A reading at a wall-clock time (Date.now() ms). */
export interface Sample {
  at: number;
  ms: number;
}

/**
 * The value of a monotone series at `at`, interpolated linearly between the
 * two readings around it (clamped to the first and last reading).
 */
export function valueAt(series: Sample[], at: number): number {
  if (series.length === 0) throw new Error('no readings');
  if (at <= series[0]!.at) return series[0]!.ms;
  for (let i = 1; i < series.length; i++) {
    const b = series[i]!;
    if (at <= b.at) {
      const a = series[i - 1]!;
      return b.at === a.at ? b.ms : a.ms + ((b.ms - a.ms) * (at - a.at)) / (b.at - a.at);
    }
  }
  return series[series.length - 1]!.ms;
}

/** CPU ms a series grew by between two wall-clock times. */
export const cpuBetween = (series: Sample[], from: number, to: number) => valueAt(series, to) - valueAt(series, from);

/**
 * Reads the CPU of named things (a pid, or the PostgreSQL server) every
 * `everyMs` in the background, so a window known only afterwards (the peer
 * reports when its first record came and when it finished) can be cut out of
 * the series. A pid that is gone keeps its last reading.
 */
export class CpuSampler {
  readonly series = new Map<string, Sample[]>();
  private readonly pids = new Map<string, number>();
  private readonly groups = new Map<string, { list: () => Promise<number[]>; last: Map<number, number> }>();
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly withPostgres: boolean,
    private readonly everyMs = 250,
  ) {}

  /** Follows a process under a name (its series starts now). */
  follow(name: string, pid: number): void {
    this.pids.set(name, pid);
    this.series.set(name, []);
  }

  /**
   * Follows a changing set of processes under a name, e.g. the PostgreSQL
   * backends of one database (`list` asked at every reading): the series is
   * the sum of each process's last reading, so one that exits keeps counting
   * what it used up to the reading before.
   */
  followGroup(name: string, list: () => Promise<number[]>): void {
    this.groups.set(name, { list, last: new Map() });
    this.series.set(name, []);
  }

  start(): Promise<void> {
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    return this.sample();
  }

  /** Takes a reading now (and waits for it): call at each end of a window measured here. */
  sample(): Promise<void> {
    this.reading = this.reading.then(async () => {
      const at = Date.now();
      if (this.withPostgres) this.push('postgres', at, postgresCpuMs(await allStats()));
      for (const [name, pid] of this.pids) {
        const ms = await processCpuMs(pid);
        if (ms !== undefined) this.push(name, at, ms);
      }
      for (const [name, group] of this.groups) {
        const pids = await group.list().catch(() => [] as number[]);
        for (const pid of pids) {
          const ms = await processCpuMs(pid);
          if (ms !== undefined) group.last.set(pid, ms);
        }
        this.push(name, at, [...group.last.values()].reduce((a, b) => a + b, 0));
      }
    });
    return this.reading;
  }

  private push(name: string, at: number, ms: number): void {
    let s = this.series.get(name);
    if (!s) this.series.set(name, (s = []));
    s.push({ at, ms });
  }

  /** CPU ms of `name` between two wall-clock times; NaN when it was never read. */
  between(name: string, from: number, to: number): number {
    const s = this.series.get(name);
    return s && s.length > 0 ? cpuBetween(s, from, to) : NaN;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
  }
}
