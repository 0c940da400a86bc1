import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ingestEnv, loadEnv } from './env.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

describe('ingest configuration', () => {
  it('fails at boot naming every bad variable', () => {
    expect(() => loadEnv({ PORT: 'eighty', PRODUCE_TIMEOUT_MS: '-1' })).toThrow(/STORE_ID: .*\n.*PORT: .*\n.*PRODUCE_TIMEOUT_MS/s);
  });

  it('--help lists every variable with its description and default, from the schema', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN, '--help']);
    for (const name of Object.keys(ingestEnv.shape)) expect(stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    expect(stdout).toMatch(/STORE_ID +This store\. \(required\)/);
    expect(stdout).toMatch(/PORT +.*\(default: 8080\)/);
  });
});
