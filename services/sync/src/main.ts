import { runService } from '@tillstream/consumer-service';
import { syncEnv } from './env.ts';
import { startSync } from './service.ts';

await runService({
  workspace: '@tillstream/sync',
  description: `The store's link to HQ: an outbox fed from the store topics, idempotent BullMQ
upload jobs with a sweeper (Redis is only the trigger), day manifests, replays, catalog downloads.`,
  schema: syncEnv,
  argv: process.argv,
  env: process.env,
  start: (env) => startSync(env),
});
