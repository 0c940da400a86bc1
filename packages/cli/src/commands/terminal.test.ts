import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findTerminalByToken } from '@tillstream/db';
import { testDatabase } from '@tillstream/testing';

const BIN = fileURLToPath(new URL('../../bin/tillstream.js', import.meta.url));

async function tillstream(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npx tillstream terminal', () => {
  it('adds a terminal whose token ingest accepts, rotates it on re-add, and revokes it', async () => {
    const db = await testDatabase({ target: 'store' });
    const add = await tillstream('terminal', 'add', '--store', 'S001', '--terminal', 'T07', '--database-url', db.url, '--json');
    expect(add.code).toBe(0);
    const { token } = JSON.parse(add.stdout) as { token: string };
    expect(await findTerminalByToken(db.pool, token)).toEqual({ storeId: 'S001', terminalId: 'T07' });

    const again = JSON.parse((await tillstream('terminal', 'add', '--store', 'S001', '--terminal', 'T07', '--database-url', db.url, '--json')).stdout) as { token: string };
    expect(await findTerminalByToken(db.pool, token)).toBeUndefined();
    expect(await findTerminalByToken(db.pool, again.token)).toEqual({ storeId: 'S001', terminalId: 'T07' });

    const revoke = await tillstream('terminal', 'revoke', '--store', 'S001', '--terminal', 'T07', '--database-url', db.url);
    expect(revoke.code).toBe(0);
    expect(await findTerminalByToken(db.pool, again.token)).toBeUndefined();

    const twice = await tillstream('terminal', 'revoke', '--store', 'S001', '--terminal', 'T07', '--database-url', db.url);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^tillstream: terminal T07 of store S001 has no live token\n$/);
    const list = await tillstream('terminal', 'list', '--store', 'S001', '--database-url', db.url);
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
    expect(list.stdout).toMatch(/T07\trevoked/);
  });

  it('refuses a malformed id in one line, and every command has --help', async () => {
    const bad = await tillstream('terminal', 'add', '--store', 'S 1', '--terminal', 'T1');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/store "S 1": must be letters, digits/);
    for (const command of [[], ['terminal'], ['terminal', 'add'], ['terminal', 'revoke'], ['terminal', 'list']]) {
      const help = await tillstream(...command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: tillstream/);
    }
  });
});
