import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { dropDatabase } from '@tillstream/db';
import { runTillstream, testDatabase, testEnv, uniqueName } from '@tillstream/testing';

const created: string[] = [];
afterEach(async () => {
  for (const name of created.splice(0)) await dropDatabase(testEnv.POSTGRES_URL, name);
});

describe('npx tillstream migrate', () => {
  it('creates the database, provisions the roles with the passwords of the secret files, migrates as the owner, and a second run changes nothing', async () => {
    const name = uniqueName('t');
    created.push(name);
    const secrets = mkdtempSync(join(tmpdir(), 'tillstream-roles-'));
    const password = randomBytes(24).toString('hex');
    writeFileSync(join(secrets, 'ingest'), `${password}\n`, { mode: 0o600 });

    const first = await runTillstream('migrate', '--target', 'store', '--database', name, '--passwords-dir', secrets);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^${name} \\(created\\): applied .*service-roles.*; roles provisioned \\(passwords set: ingest\\)\\n$`));
    expect(first.stdout).not.toContain(password);

    const admin = await testDatabase({ target: 'empty' }); // any connection as the administrator
    const { rows: db } = await admin.pool.query<{ owner: string; acl: string }>('SELECT pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database WHERE datname = $1', [name]);
    expect(db[0]!.owner).toBe('tillstream_owner');
    // CONNECT for the owner and the store's four services, nobody else (no "=c" entry for PUBLIC).
    expect(db[0]!.acl).not.toMatch(/[{,]=/);
    for (const role of ['tillstream_ingest', 'tillstream_inventory', 'tillstream_trends', 'tillstream_sync']) expect(db[0]!.acl).toContain(`${role}=c/`);
    expect(db[0]!.acl).not.toContain('tillstream_hq=');
    // Stored as a SCRAM verifier, never as the password.
    const { rows: role } = await admin.pool.query<{ scram: boolean }>("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = 'tillstream_ingest'");
    expect(role[0]!.scram).toBe(true);

    const second = await runTillstream('migrate', '--target', 'store', '--database', name);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`${name}: up to date; roles provisioned\n`);
  });

  it('refuses a role password file shorter than 16 characters, naming the file, and changes nothing', async () => {
    const name = uniqueName('t');
    created.push(name);
    const secrets = mkdtempSync(join(tmpdir(), 'tillstream-roles-'));
    writeFileSync(join(secrets, 'sync'), 'short\n', { mode: 0o600 });
    const run = await runTillstream('migrate', '--target', 'store', '--database', name, '--passwords-dir', secrets);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`tillstream: ${join(secrets, 'sync')}: a role password must be at least 16 characters\n`);
    const admin = await testDatabase({ target: 'empty' });
    expect((await admin.pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount).toBe(0);
  });
});
