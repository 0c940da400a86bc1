import { runService } from '@tillstream/consumer-service';
import { inventoryEnv } from './env.ts';
import { startInventory } from './service.ts';

await runService({
  workspace: '@tillstream/inventory',
  description: `The store's stock ledger: consumes the POS topic into PostgreSQL effectively once,
serves the inventory part of the store API, publishes levels and low-stock alerts.`,
  schema: inventoryEnv,
  argv: process.argv,
  env: process.env,
  start: (env) => startInventory(env),
});
