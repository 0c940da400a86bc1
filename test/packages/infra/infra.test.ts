import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { testLogger } from '@tillstream/testing';
import { brokerPid, down, infraConfigFromEnv, isAlive, newClusterId, status, up, type InfraConfig } from '@tillstream/infra';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../../packages/infra/src/cli.ts', import.meta.url));

// A broker of this suite's own, on ports the shared test brokers do not use,
// with its own state folder; the jar cache is shared with the global setup.
async function isolatedConfig(ports: { port: number; controllerPort: number }): Promise<InfraConfig> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tillstream-infra-'));
  onTestFinished(() => rm(stateDir, { recursive: true, force: true }));
  const base = infraConfigFromEnv(process.env, testLogger('infra'));
  return { ...base, stateDir, databases: [], autoStartServices: false, brokers: [{ name: 'probe', heapMb: 256, ...ports }] };
}

describe('local infrastructure tool', () => {
  it('up twice runs one broker, down stops it, down again is a no-op', async () => {
    const config = await isolatedConfig({ port: 29_092, controllerPort: 29_093 });
    onTestFinished(async () => {
      await down(config);
    });

    expect((await up(config)).brokers).toEqual(['probe']);
    const pid = await brokerPid(config.brokers[0]!, config);
    expect(pid).toBeGreaterThan(0);

    expect((await up(config)).brokers).toEqual([]);
    expect(await brokerPid(config.brokers[0]!, config)).toBe(pid);
    expect((await status(config)).brokers[0]).toMatchObject({ name: 'probe', running: true, pid });

    expect(await down(config)).toEqual(['kafka-probe']);
    expect(isAlive(pid!)).toBe(false);
    expect(await down(config)).toEqual([]);
    expect((await status(config)).brokers[0]).toMatchObject({ running: false });
  });

  it('fails with a clear error when a port is already taken by another process', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(29_192, '127.0.0.1', resolve));
    try {
      const config = await isolatedConfig({ port: 29_192, controllerPort: 29_193 });
      await expect(up(config)).rejects.toMatchObject({
        code: 'PORT_TAKEN',
        message: expect.stringContaining('port 29192 on 127.0.0.1 is already taken'),
      });
      expect((await status(config)).brokers[0]).toMatchObject({ running: false });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('says in one line that java is missing, and exits non-zero', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'tillstream-cache-'));
    onTestFinished(() => rm(cacheDir, { recursive: true, force: true }));
    const result = await run(process.execPath, ['--conditions=development', '--import', 'tsx', CLI, 'up'], {
      env: { ...process.env, PATH: '/nonexistent', TILLSTREAM_CACHE_DIR: cacheDir, INFRA_AUTOSTART_SERVICES: 'false', TILLSTREAM_DATABASES: 'postgres', LOG_LEVEL: 'silent' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^infra: \[JAVA_MISSING\] java is not on PATH/);
  });
});

describe('KRaft cluster ids', () => {
  it('never begin with "-", which kafka-storage would take for an option (one random id in 64 did, and a broker failed to format)', () => {
    const ids = Array.from({ length: 5000 }, () => newClusterId());
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
