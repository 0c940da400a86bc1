import { createLogger } from '@tillstream/observability';
import { down, infraConfigFromEnv, up } from '@tillstream/infra';
import { prepareTemplateDatabases } from './fixtures.ts';

/**
 * Vitest global setup: brings up the local infrastructure (reusing brokers a
 * developer already runs), migrates the template databases, and on teardown
 * stops exactly what it started.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const logger = createLogger({ name: 'test-infra', level: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'warn' });
  const config = infraConfigFromEnv(process.env, logger);
  const started = await up(config);
  const reused = config.brokers.filter((b) => !started.brokers.includes(b.name)).map((b) => b.name);
  console.log(`test infra: started [${started.brokers.join(', ')}]${reused.length ? `, reusing running [${reused.join(', ')}]` : ''}`);
  await prepareTemplateDatabases(logger);
  return async () => {
    const stopped = await down(config, started);
    if (stopped.length) console.log(`test infra: stopped [${stopped.join(', ')}]`);
  };
}
