import { runService } from '@tillstream/consumer-service';
import { hqEnv } from './env.ts';
import { startHq } from './service.ts';

await runService({
  workspace: '@tillstream/hq',
  description: `HQ: receives store batches (applied once) and day manifests, writes them to HQ's
Kafka, builds the chain views effectively once, asks stores to replay gaps, publishes the catalog.`,
  schema: hqEnv,
  argv: process.argv,
  env: process.env,
  start: (env) => startHq(env),
});
