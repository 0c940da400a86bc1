import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { infraEnv } from './env.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const run = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, LOG_LEVEL: 'silent' } });

describe('npm run infra:* --help', () => {
  // `npm run infra:up -- --help`, as the docs said to run it, arrived as "up --help" and started the brokers.
  it('prints help for "up --help" too, and starts nothing; every variable comes from the env schema', async () => {
    for (const args of [['--help'], ['up', '--help'], ['down', '-h']]) {
      const { stdout } = await run(...args);
      expect(stdout).toMatch(/^Usage: npm run infra:<up\|down\|status>/);
      expect(stdout).not.toMatch(/^infra (up|down):/m);
      for (const name of Object.keys(infraEnv.shape)) expect(stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      expect(stdout).toMatch(/^ {2}KAFKA_VERSION +.*\(default: "3\.9\.1"\)$/m);
      expect(stdout).toMatch(/^ {2}KAFKA_HEAP_MB +.*\[128\.\.8192\] \(default: 512\)$/m);
    }
  });
});
