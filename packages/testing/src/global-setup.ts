import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueCertificate, writeKeyPair } from '@tillstream/certs';
import { createLogger } from '@tillstream/observability';
import { down, dropRedisUser, ensureRedisUser, infraConfigFromEnv, redisUserUrl, up } from '@tillstream/infra';
import { prepareTemplateDatabases } from './fixtures.ts';

/**
 * Vitest global setup: brings up the local infrastructure (reusing brokers a
 * developer already runs), migrates the template databases, and on teardown
 * stops exactly what it started.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // Marks this run: workers and every process they start inherit it, so the
  // leak check below finds this run's brokers and never another run's (two
  // checkouts testing side by side on one machine).
  process.env.TILLSTREAM_TEST_RUN = randomUUID();
  const logger = createLogger({ name: 'test-infra', level: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'warn' });
  const config = infraConfigFromEnv(process.env, logger);
  const started = await up(config);
  const reused = config.brokers.filter((b) => !started.brokers.includes(b.name)).map((b) => b.name);
  console.log(`test infra: started [${started.brokers.join(', ')}]${reused.length ? `, reusing running [${reused.join(', ')}]` : ''}`);
  await prepareTemplateDatabases(logger);
  // The sync service's Redis ACL user, this run's own (other runs share the
  // server): tests start sync with TEST_SYNC_REDIS_URL, so the ACL is what
  // every sync test runs under. Removed at teardown.
  const syncUser = `tillstream_sync_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(24).toString('hex');
  await ensureRedisUser({ adminUrl: config.redisUrl, user: syncUser, password });
  process.env.TEST_SYNC_REDIS_URL = redisUserUrl(config.redisUrl, syncUser, password);
  const tlsDir = await prepareTls();
  return async () => {
    await rm(tlsDir, { recursive: true, force: true });
    await dropRedisUser({ adminUrl: config.redisUrl, user: syncUser });
    const stopped = await down(config, started);
    if (stopped.length) console.log(`test infra: stopped [${stopped.join(', ')}]`);
    const leaked = await leakedBrokers();
    if (leaked.length > 0) {
      for (const pid of leaked) process.kill(pid, 'SIGKILL');
      throw new Error(`tests left ${leaked.length} broker process(es) of their own running (killed now: ${leaked.join(', ')}); a test must stop what it starts`);
    }
  };
}

/**
 * The run's CA and a server certificate for the loopback names (testing/src/tls.ts):
 * services started by test helpers listen HTTPS with it, so the tested path is the
 * production one. Set in this process's environment before vitest forks its
 * workers, so they and everything they spawn (the CLI, services under
 * startProcess) inherit it; NODE_EXTRA_CA_CERTS is read by Node at start, so
 * every worker's fetch and node:https trust the run's CA.
 */
async function prepareTls(): Promise<string> {
  // The layout of `tillstream certs` (ca/, servers/, stores/): the demo's test hands this directory to the demo as its --certs-dir.
  const dir = await mkdtemp(join(tmpdir(), 'tillstream-tls-'));
  const ca = await ensureCa(join(dir, 'ca'), 'Tillstream test run CA');
  const server = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', hosts: ['localhost', '127.0.0.1', '::1'] });
  await writeKeyPair(join(dir, 'servers'), 'server', server);
  process.env.TILLSTREAM_TEST_TLS_DIR = dir;
  process.env.NODE_EXTRA_CA_CERTS = ca.certFile;
  return dir;
}

/** Brokers started by this run's tests themselves (state under the temp dir, this run's mark in their environment) that are still running. */
async function leakedBrokers(): Promise<number[]> {
  const pids: number[] = [];
  const mark = `TILLSTREAM_TEST_RUN=${process.env.TILLSTREAM_TEST_RUN}\0`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmd.includes('kafka.Kafka') || !cmd.includes(`${tmpdir()}/tillstream-`)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '');
    if (environ.includes(mark)) pids.push(Number(entry));
  }
  return pids;
}
