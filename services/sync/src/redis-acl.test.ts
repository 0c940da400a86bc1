import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { storeTopics } from '@tillstream/contracts';
import { createLogger } from '@tillstream/observability';
import { createRedis, type Redis } from '@tillstream/queue';
import { bearer, capturingLogger, dropRedisUser, ensureRedisUser, kafkaServiceEnv, redisUserUrl, syncRedisUrl, testDatabase, testEnv, testKafka, testTlsEnv, testTokens, uniqueName, waitFor } from '@tillstream/testing';
import { syncEnv } from './env.ts';
import { startSync } from './service.ts';

/** A connection as the sync service's ACL user (the global setup's, the one every sync test runs as). */
function asSyncUser(url = syncRedisUrl()): Redis {
  const redis = createRedis(url, 'command', { lazyConnect: true });
  onTestFinished(() => redis.disconnect());
  return redis;
}

async function refusal(run: Promise<unknown>): Promise<string> {
  return run.then(
    () => 'allowed',
    (err: unknown) => (err as Error).message,
  );
}

describe("sync's Redis user", () => {
  it("works under BullMQ's prefix and is refused every key outside it and the dangerous commands", async () => {
    const redis = asSyncUser();
    await redis.connect();
    const mine = `bull:${uniqueName('acl')}:probe`;
    onTestFinished(async () => {
      const admin = createRedis(testEnv.REDIS_URL, 'command');
      await admin.del(mine);
      admin.disconnect();
    });
    expect(await redis.set(mine, '1')).toBe('OK');
    expect(await redis.get(mine)).toBe('1');
    const other = uniqueName('not_bull');
    expect(await refusal(redis.set(other, '1'))).toMatch(/^NOPERM .*(key|keys)/);
    expect(await refusal(redis.get('tillstream:anything'))).toMatch(/^NOPERM .*(key|keys)/);
    for (const command of [['FLUSHALL'], ['FLUSHDB'], ['KEYS', '*'], ['CONFIG', 'GET', 'maxmemory'], ['ACL', 'LIST'], ['SHUTDOWN']]) {
      expect(await refusal(redis.call(command[0]!, ...command.slice(1))), command.join(' ')).toMatch(/^NOPERM .*no permissions to run/);
    }
  });

  it('with a wrong password is refused by Redis, and sync does not start, saying why without the password', async () => {
    const wrong = new URL(syncRedisUrl());
    wrong.password = 'not-the-password-of-this-user';
    // Redis's answer to that login: AUTH <user> <wrong password> on a connection of its own.
    const probe = createRedis(testEnv.REDIS_URL, 'command');
    onTestFinished(() => probe.disconnect());
    expect(await refusal(probe.call('AUTH', decodeURIComponent(wrong.username), wrong.password))).toMatch(/^WRONGPASS invalid username-password pair/);

    const { env } = await syncFixture(wrong.toString());
    const started = await refusal(startSync(env, { logger: createLogger({ name: 'sync', level: 'silent' }) }));
    expect(started).toBe(`Redis refused the sync user "${decodeURIComponent(wrong.username)}" (WRONGPASS): check REDIS_URL's user and REDIS_PASSWORD_FILE`);
  });

  it('logs in with REDIS_PASSWORD_FILE (over a password in the URL); refused later (password rotated), it says so in its log and on its status page, never logging the password', async () => {
    const user = uniqueName('tillstream_sync');
    const password = randomBytes(24).toString('hex');
    await ensureRedisUser({ adminUrl: testEnv.REDIS_URL, user, password });
    onTestFinished(() => dropRedisUser({ adminUrl: testEnv.REDIS_URL, user }));
    const passwordFile = join(mkdtempSync(join(tmpdir(), 'tillstream-redis-')), 'sync-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const { env, db } = await syncFixture(redisUserUrl(testEnv.REDIS_URL, user, 'a-stale-password-in-the-url'), { REDIS_PASSWORD_FILE: passwordFile });
    const { logger, lines: logs } = capturingLogger('sync');
    const sync = await startSync(env, { logger });
    onTestFinished(() => sync.stop());
    const viewer = bearer((await testTokens(db.pool, 'store'))['store-viewer']);
    const status = async () => (await (await fetch(`${sync.url}/v1/sync/status`, { headers: viewer })).json()) as { queue: unknown; queueError: string | null };
    await waitFor(async () => (await status()).queue !== null, { message: 'the upload queue to answer' });

    // The operator rotates the password; sync's connections are dropped and log in again with the old one.
    await ensureRedisUser({ adminUrl: testEnv.REDIS_URL, user, password: randomBytes(24).toString('hex') });
    const admin = createRedis(testEnv.REDIS_URL, 'command');
    onTestFinished(() => admin.disconnect());
    await admin.call('CLIENT', 'KILL', 'USER', user);
    const refused = await waitFor(async () => {
      const body = await status();
      return body.queueError ? body : undefined;
    }, { message: "the status page to show Redis's refusal" });
    expect(refused.queue).toBeNull();
    expect(refused.queueError).toMatch(/^WRONGPASS/);
    const lines = logs.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.msg.startsWith('Redis refused the sync user'));
    expect(lines.map((l) => l.level)).toEqual([50]); // one error, not one per retry
    expect(logs.join('')).not.toContain(password);
    expect(logs.join('')).not.toContain('a-stale-password-in-the-url');
  });
});

/** A store database and topics for a sync of this test, with `redisUrl`; HQ is not there (the link is not what these tests are about). */
async function syncFixture(redisUrl: string, overrides: Record<string, string> = {}) {
  const db = await testDatabase({ target: 'store' });
  const kafka = await testKafka({ specs: storeTopics });
  const env = syncEnv.parse({
    STORE_ID: 'S001',
    TOPIC_PREFIX: kafka.prefix,
    ...testTlsEnv(),
    ...kafkaServiceEnv('sync'),
    DATABASE_URL: db.urlFor('sync'),
    REDIS_URL: redisUrl,
    SYNC_QUEUE: uniqueName('sync'),
    PORT: '0',
    HQ_URL: 'http://127.0.0.1:9',
    HQ_TOKEN: 'no-hq-in-this-test',
    ...overrides,
  });
  return { env, db };
}
