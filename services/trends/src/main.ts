import { runService } from '@tillstream/consumer-service';
import { trendsEnv } from './env.ts';
import { startTrends } from './service.ts';

await runService({
  workspace: '@tillstream/trends',
  description: `The store's sales trends: books the POS topic into 5-minute, hourly and business-day
windows (late data restates them), finds top sellers, velocity and anomalies, serves
the sales part of the store API and publishes aggregates for HQ.`,
  schema: trendsEnv,
  argv: process.argv,
  env: process.env,
  start: (env) => startTrends(env),
});
