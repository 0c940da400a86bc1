import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CpuSampler, cpuBetween, parseProcStat, postgresCpuMs, processCpuMs, valueAt, type ProcStat } from '../bench/cpu.ts';
import { formatSpread, spread } from '../bench/harness.ts';
import { parsePeerResult, peerSourceHash } from '../bench/peer.ts';

// What the consumer benchmarks parse beside the Kafka Streams peer: /proc CPU readings and the peer's RESULT line.

describe('parseProcStat', () => {
  it('reads ppid and utime+stime / cutime+cstime in ms (100 ticks/s)', () => {
    const line = '2185 (postgres) S 1 2185 2185 0 -1 4194304 13153 1384513 0 12 5 36 5260 1181 20 0 1 0 2870 222445568 7416';
    expect(parseProcStat(line)).toEqual({ pid: 2185, comm: 'postgres', ppid: 1, ownMs: 410, childrenMs: 64_410 });
  });

  it('counts fields from the last parenthesis: a command name may hold spaces and parentheses', () => {
    const line = '42 (a) b (c) R 7 42 42 0 -1 0 0 0 0 0 100 50 3 4 20 0 1 0 1 1 1';
    expect(parseProcStat(line)).toMatchObject({ pid: 42, comm: 'a) b (c', ppid: 7, ownMs: 1500, childrenMs: 70 });
  });

  it('refuses what is not a stat line', () => {
    expect(() => parseProcStat('')).toThrow(/not a \/proc/);
    expect(() => parseProcStat('1 (x) S 0 0 0')).toThrow(/field/);
  });

  it('reads this very process', async () => {
    expect(await processCpuMs(process.pid)).toBeGreaterThanOrEqual(0);
  });
});

describe('postgresCpuMs', () => {
  const p = (pid: number, comm: string, ppid: number, ownMs: number, childrenMs: number): ProcStat => ({ pid, comm, ppid, ownMs, childrenMs });

  it("sums every postgres process and the postmaster's reaped children, nothing else", () => {
    const stats = [p(10, 'postgres', 1, 100, 5000), p(11, 'postgres', 10, 30, 0), p(12, 'postgres', 10, 70, 0), p(13, 'node', 1, 9999, 9999)];
    expect(postgresCpuMs(stats)).toBe(100 + 5000 + 30 + 70);
  });

  it("does not count a backend's children twice (only a postgres process without a postgres parent adds its children)", () => {
    expect(postgresCpuMs([p(10, 'postgres', 1, 0, 100), p(11, 'postgres', 10, 10, 40)])).toBe(110);
  });

  it('is steady when a backend exits and is reaped: its time moves into the postmaster', () => {
    const before = postgresCpuMs([p(10, 'postgres', 1, 100, 1000), p(11, 'postgres', 10, 250, 0)]);
    const after = postgresCpuMs([p(10, 'postgres', 1, 100, 1250)]);
    expect(after).toBe(before);
  });
});

describe('valueAt / cpuBetween', () => {
  const series = [
    { at: 1000, ms: 0 },
    { at: 2000, ms: 100 },
    { at: 4000, ms: 500 },
  ];

  it('interpolates between readings and clamps outside them', () => {
    expect(valueAt(series, 1500)).toBe(50);
    expect(valueAt(series, 3000)).toBe(300);
    expect(valueAt(series, 0)).toBe(0);
    expect(valueAt(series, 9000)).toBe(500);
    expect(cpuBetween(series, 1500, 3000)).toBe(250);
  });

  it('refuses an empty series', () => {
    expect(() => valueAt([], 1)).toThrow(/no readings/);
  });
});

describe('CpuSampler', () => {
  it("follows a process and a changing group; a member that is gone keeps its last reading", async () => {
    let members = [process.pid];
    const sampler = new CpuSampler(false, 60_000);
    sampler.follow('self', process.pid);
    sampler.followGroup('group', () => Promise.resolve(members));
    await sampler.start();
    const first = sampler.series.get('group')![0]!.ms;
    expect(first).toBeGreaterThan(0);
    members = [2 ** 22 + 12_345]; // no such pid: this process leaves the group, its reading stays
    await sampler.sample();
    await sampler.stop();
    const group = sampler.series.get('group')!;
    expect(group).toHaveLength(2);
    expect(group[1]!.ms).toBe(first);
    expect(sampler.series.get('self')).toHaveLength(2);
    expect(sampler.between('self', 0, Date.now() + 1000)).toBeGreaterThanOrEqual(0);
    expect(sampler.between('nothing', 0, 1)).toBeNaN();
  });
});

describe('parsePeerResult', () => {
  const line =
    'RESULT mode=inventory guarantee=exactly_once_v2 records=333334 lines=1000002 seconds=24.75 lines_per_s=40404 processed_seconds=24.10 lines_per_s_processed=41494 seconds_incl_start=27.01 lines_per_s_incl_start=37024 seconds_incl_jvm=28.44 cpu_s=29.3 cpu_us_per_line=29.3 gc_ms=512 heap_max_mb=512 peak_rss_mb=701 out_levels=12345 out_windows=0 duplicates=0 verified=OK';

  it("reads PeerApp's figures", () => {
    expect(parsePeerResult(line)).toEqual({
      mode: 'inventory',
      guarantee: 'exactly_once_v2',
      records: 333_334,
      lines: 1_000_002,
      seconds: 24.75,
      linesPerS: 40_404,
      secondsInclStart: 27.01,
      secondsInclJvm: 28.44,
      cpuS: 29.3,
      cpuUsPerLine: 29.3,
      gcMs: 512,
      heapMaxMb: 512,
      peakRssMb: 701,
      outLevels: 12_345,
      outWindows: 0,
      verified: 'OK',
    });
  });

  it('ignores fields it does not use and extra words the bench script appends', () => {
    expect(parsePeerResult(`${line} run=2 load="1.0 2.0 3.0"`).verified).toBe('OK');
  });

  it('refuses another line, a missing field and a figure that is not a number', () => {
    expect(() => parsePeerResult('progress: 10 of 20 records')).toThrow(/not a peer RESULT/);
    expect(() => parsePeerResult(line.replace(/ cpu_us_per_line=\S+/, ''))).toThrow(/no cpu_us_per_line/);
    expect(() => parsePeerResult(line.replace('seconds=24.75', 'seconds=abc'))).toThrow(/seconds=abc is not a number/);
  });
});

describe('spread / formatSpread', () => {
  it('gives median and range of repeated runs, the one figure alone', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(spread([4, 1, 2, 3]).median).toBe(2.5);
    expect(formatSpread([40_404, 36_800, 47_400])).toBe('40404 (36800–47400)');
    expect(formatSpread([29.34], 1)).toBe('29.3');
    expect(formatSpread([NaN])).toBe('n/a');
  });
});

describe('peerSourceHash', () => {
  it('changes with the sources and only with them (target/ and runs/ are not read)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peer-hash-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'src', 'main'), { recursive: true });
    await writeFile(join(dir, 'pom.xml'), '<project/>');
    await writeFile(join(dir, 'src', 'main', 'A.java'), 'class A {}');
    const first = await peerSourceHash(dir);
    await mkdir(join(dir, 'target'));
    await writeFile(join(dir, 'target', 'x.jar'), 'jar');
    expect(await peerSourceHash(dir)).toBe(first);
    await writeFile(join(dir, 'src', 'main', 'A.java'), 'class A { int x; }');
    expect(await peerSourceHash(dir)).not.toBe(first);
  });
});
