import { readdir } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { createClient, databaseUrl, ensureDatabase } from '@tillstream/db';
import type { Logger } from '@tillstream/observability';
import { createRedis } from '@tillstream/queue';
import { InfraError } from './errors.ts';
import { execFileAsync, sleep, which } from './process.ts';

/**
 * PostgreSQL and Redis are the machine's own servers (Debian packages), not
 * processes of this tool. If one is down, the tool starts it with Debian's
 * command, when it can, and reports that it did so that `down` stops exactly
 * what `up` started.
 */

async function postgresAnswers(url: string): Promise<boolean> {
  const client = createClient({ connectionString: url, connectionTimeoutMs: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function debianCluster(): Promise<string | undefined> {
  try {
    const versions = await readdir('/etc/postgresql');
    return versions.sort().pop();
  } catch {
    return undefined;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(250);
  }
  return false;
}

/** Makes sure PostgreSQL answers at `url` and the databases exist. Returns true if it had to start the server. */
export async function ensurePostgres(options: { url: string; databases: string[]; logger: Logger; autoStart: boolean }): Promise<boolean> {
  let started = false;
  if (!(await postgresAnswers(databaseUrl(options.url, 'postgres')))) {
    const version = await debianCluster();
    if (!options.autoStart || !version || !(await which('pg_ctlcluster'))) {
      throw new InfraError('POSTGRES_DOWN', `PostgreSQL does not answer at ${new URL(options.url).host}; start it (Debian: pg_ctlcluster <version> main start)`);
    }
    options.logger.info({ version }, 'PostgreSQL is down; starting it');
    try {
      await execFileAsync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
    } catch (err) {
      throw new InfraError('POSTGRES_START_FAILED', `pg_ctlcluster ${version} main start failed: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
    if (!(await waitFor(() => postgresAnswers(databaseUrl(options.url, 'postgres')), 30_000))) {
      throw new InfraError('POSTGRES_DOWN', `PostgreSQL started but does not answer at ${new URL(options.url).host}; see /var/log/postgresql`);
    }
    started = true;
  }
  for (const name of options.databases) {
    if (await ensureDatabase(options.url, name)) options.logger.info({ database: name }, 'created database');
  }
  return started;
}

export async function stopPostgres(logger: Logger): Promise<void> {
  const version = await debianCluster();
  if (!version) return;
  await execFileAsync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'stop']);
  logger.info('PostgreSQL stopped');
}

/** Sends PING over the RESP protocol; true on +PONG. No client library needed for a liveness probe. */
export function redisAnswers(url: string, timeoutMs = 2000): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** Makes sure Redis answers at `url`. Returns true if it had to start the server. */
export async function ensureRedis(options: { url: string; logger: Logger; autoStart: boolean }): Promise<boolean> {
  if (await redisAnswers(options.url)) return false;
  const u = new URL(options.url);
  const local = u.hostname === '127.0.0.1' || u.hostname === 'localhost';
  if (!options.autoStart || !local || !(await which('redis-server'))) {
    throw new InfraError('REDIS_DOWN', `Redis does not answer at ${u.host}; start it (Debian: redis-server --daemonize yes)`);
  }
  options.logger.info('Redis is down; starting it');
  // Debian's own start command for this machine kind. Appendonly stays as the
  // machine's server is configured; production settings are in docker-compose.yml.
  await execFileAsync('redis-server', [
    '--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', String(u.port || 6379),
    '--save', '', '--appendonly', 'no', '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log',
  ]).catch((err: Error) => {
    throw new InfraError('REDIS_START_FAILED', `redis-server failed to start: ${err.message.split('\n')[0]}`, { cause: err });
  });
  if (!(await waitFor(() => redisAnswers(options.url), 15_000))) {
    throw new InfraError('REDIS_DOWN', `Redis started but does not answer at ${u.host}; see /var/log/redis/ci.log`);
  }
  return true;
}

export async function stopRedis(url: string, logger: Logger): Promise<void> {
  const u = new URL(url);
  await execFileAsync('redis-cli', ['-h', u.hostname, '-p', String(u.port || 6379), 'shutdown', 'nosave']).catch(() => undefined);
  logger.info('Redis stopped');
}

/** BullMQ's key prefix: the sync user's keys and channels are limited to it. */
export const BULLMQ_PREFIX = 'bull';

/**
 * The Redis ACL rules of the sync service's user (issue 15 item 3): its keys
 * and channels only (BullMQ's prefix), every command but the dangerous ones
 * (FLUSHALL, KEYS, CONFIG, ACL, SHUTDOWN, DEBUG, ...), and of those only what
 * BullMQ needs: INFO (its server version check) and naming its connections.
 */
export function syncRedisRules(password: string): string[] {
  return [
    'reset',
    'on',
    `>${password}`,
    `~${BULLMQ_PREFIX}:*`,
    'resetchannels',
    `&${BULLMQ_PREFIX}:*`,
    '+@all',
    '-@dangerous',
    '+info',
    '+client|setname',
    '+client|getname',
  ];
}

/**
 * Creates (or resets) the ACL user `user` with `password` on the Redis at
 * `adminUrl`, with {@link syncRedisRules}. Never touches the `default` user
 * or the server's configuration: several tenants share a developer's Redis.
 */
export async function ensureRedisUser(options: { adminUrl: string; user: string; password: string }): Promise<void> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.user)) throw new Error(`invalid Redis user name "${options.user}"`);
  if (!/^[\x21-\x7e]{16,}$/.test(options.password)) throw new Error('a Redis password must be at least 16 printable characters without spaces');
  const redis = createRedis(options.adminUrl, 'command', { lazyConnect: true, enableOfflineQueue: false });
  try {
    await redis.connect();
    await redis.call('ACL', 'SETUSER', options.user, ...syncRedisRules(options.password));
  } finally {
    redis.disconnect();
  }
}

/** Removes ACL user `user` (a test run's own); its open connections are closed by Redis. */
export async function dropRedisUser(options: { adminUrl: string; user: string }): Promise<void> {
  const redis = createRedis(options.adminUrl, 'command', { lazyConnect: true, enableOfflineQueue: false });
  try {
    await redis.connect();
    await redis.call('ACL', 'DELUSER', options.user);
  } finally {
    redis.disconnect();
  }
}

/** `url` with the ACL user and password (userinfo escaped). */
export function redisUserUrl(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}
