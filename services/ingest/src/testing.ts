import { Writable } from 'node:stream';
import { storeTopics } from '@tillstream/contracts';
import { issueTerminalToken } from '@tillstream/db';
import { createLogger } from '@tillstream/observability';
import { kafkaServiceEnv, testDatabase, testKafka, testTlsEnv, testTokens, type SiteTokens, type TestDatabase, type TestKafka } from '@tillstream/testing';
import { onTestFinished } from 'vitest';
import { ingestEnv } from './env.ts';
import type { Clock } from './rate-limit.ts';
import { startIngest, type IngestService } from './service.ts';

export interface TestIngest {
  service: IngestService;
  url: string;
  db: TestDatabase;
  kafka: TestKafka;
  topic: string;
  /** A token for terminal T01 of store S001. */
  token: string;
  /** The store's people (see testTokens): a store viewer reads /readyz and /metrics. */
  tokens: SiteTokens<'store'>;
  /** Every log line ingest wrote, to prove what it never logs. */
  logs: string[];
  post(path: string, body: unknown, options?: { token?: string | null; contentType?: string; raw?: string }): Promise<Response>;
  restart(): Promise<void>;
}

/**
 * Ingest for one test: its own database, topic prefix and token (or the
 * store's `db` and `kafka`, to run beside its consumers), listening on a
 * free port; stopped and cleaned up when the test finishes.
 */
export async function testIngest(
  overrides: Record<string, string> = {},
  options: { db?: TestDatabase; kafka?: TestKafka; clock?: Clock } = {},
): Promise<TestIngest> {
  const db = options.db ?? (await testDatabase({ target: 'store' }));
  const kafka = options.kafka ?? (await testKafka({ specs: storeTopics }));
  const token = await issueTerminalToken(db.pool, { storeId: 'S001', terminalId: 'T01' });
  const tokens = await testTokens(db.pool, 'store');
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ name: 'ingest', level: 'debug', destination });
  const env = ingestEnv.parse({
    STORE_ID: 'S001',
    TOPIC_PREFIX: kafka.prefix,
    ...kafkaServiceEnv('ingest'),
    DATABASE_URL: db.urlFor('ingest'),
    PORT: '0',
    ...testTlsEnv(),
    TOKEN_CACHE_MS: '0',
    ...overrides,
  });
  let service = await startIngest(env, { logger, ...options });
  const fixture: TestIngest = {
    service,
    url: service.url,
    db,
    kafka,
    topic: `${kafka.prefix}pos.transactions.v1`,
    token,
    tokens,
    logs,
    post: (path, body, options = {}) => {
      const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
      const bearer = options.token === undefined ? token : options.token;
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      return fetch(`${fixture.url}${path}`, { method: 'POST', headers, body: options.raw ?? JSON.stringify(body) });
    },
    restart: async () => {
      await service.stop();
      service = await startIngest({ ...env, PORT: Number(new URL(fixture.url).port) }, { logger, ...options });
      fixture.service = service;
    },
  };
  onTestFinished(() => fixture.service.stop());
  return fixture;
}
