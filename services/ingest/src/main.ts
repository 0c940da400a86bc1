import { runService } from '@tillstream/consumer-service';
import { ingestEnv } from './env.ts';
import { startIngest } from './service.ts';

await runService({
  workspace: '@tillstream/ingest',
  description: "The store's terminal API: POS transactions over REST into the store's Kafka broker.",
  schema: ingestEnv,
  argv: process.argv,
  env: process.env,
  start: (env) => startIngest(env),
});
