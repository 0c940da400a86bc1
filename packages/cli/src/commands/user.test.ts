import { describe, expect, it } from 'vitest';
import { findPrincipal, openSession, findUserBySession } from '@tillstream/db';
import { runTillstream, testDatabase } from '@tillstream/testing';

describe('npx tillstream user', () => {
  it('adds a store manager whose token the store accepts (stored only as a hash), rotates it on re-add, and revokes it with its sessions', async () => {
    const db = await testDatabase({ target: 'store' });
    const add = await runTillstream('user', 'add', '--role', 'store-manager', '--name', 'Ana Silva', '--store', 'S001', '--database-url', db.url, '--json');
    expect(add.code, add.stderr).toBe(0);
    const { token } = JSON.parse(add.stdout) as { token: string };
    expect(token).toMatch(/^tt_[A-Za-z0-9_-]{43}$/);
    expect(await findPrincipal(db.pool, 'store', { kind: 'bearer', secret: token })).toEqual({ role: 'store-manager', name: 'Ana Silva' });
    // Only the hash is kept: the token itself is nowhere in the table.
    const { rows } = await db.pool.query<{ hashed: boolean; row: string }>("SELECT token_hash = sha256(convert_to($1, 'UTF8')) AS hashed, row_to_json(u)::text AS row FROM user_credentials u", [token]);
    expect(rows).toEqual([expect.objectContaining({ hashed: true })]);
    expect(rows[0]!.row).not.toContain(token.slice(3));

    const session = (await openSession(db.pool, token, 60_000))!.session;
    expect(await findUserBySession(db.pool, session)).toEqual({ name: 'Ana Silva', role: 'store-manager' });

    const again = JSON.parse((await runTillstream('user', 'add', '--role', 'store-manager', '--name', 'Ana Silva', '--store', 'S001', '--database-url', db.url, '--json')).stdout) as { token: string };
    expect(await findPrincipal(db.pool, 'store', { kind: 'bearer', secret: token })).toBeUndefined();
    // A session dies with the token it was opened with.
    expect(await findUserBySession(db.pool, session)).toBeUndefined();

    const revoke = await runTillstream('user', 'revoke', '--role', 'store-manager', '--name', 'Ana Silva', '--store', 'S001', '--database-url', db.url);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(await findPrincipal(db.pool, 'store', { kind: 'bearer', secret: again.token })).toBeUndefined();
    const twice = await runTillstream('user', 'revoke', '--role', 'store-manager', '--name', 'Ana Silva', '--store', 'S001', '--database-url', db.url);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/Ana Silva has no live store-manager token/);
    const list = await runTillstream('user', 'list', '--store', 'S001', '--database-url', db.url);
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
  });

  it("puts HQ roles in HQ's database, refuses an unknown role or a store role without --store, and every command has --help", async () => {
    const hq = await testDatabase({ target: 'hq' });
    const add = await runTillstream('user', 'add', '--role', 'hq-admin', '--name', 'ops', '--database-url', hq.url, '--json');
    expect(add.code, add.stderr).toBe(0);
    const { token } = JSON.parse(add.stdout) as { token: string };
    expect(await findPrincipal(hq.pool, 'hq', { kind: 'bearer', secret: token })).toEqual({ role: 'hq-admin', name: 'ops' });

    const unknown = await runTillstream('user', 'add', '--role', 'root', '--name', 'x', '--database-url', hq.url);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Allowed choices are store-manager, store-viewer, hq-viewer, hq-admin/);
    const storeless = await runTillstream('user', 'add', '--role', 'store-viewer', '--name', 'x');
    expect(storeless.code).toBe(1);
    expect(storeless.stderr).toMatch(/store roles need --store/);
    for (const command of [['user'], ['user', 'add'], ['user', 'revoke'], ['user', 'list']]) {
      const help = await runTillstream(...command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: tillstream user/);
    }
  });
});
