import { envHelp } from '@tillstream/config';
import { ingestEnv, loadEnv } from './env.ts';
import { startIngest } from './service.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`Usage: STORE_ID=<id> [VAR=value ...] npm start -w @tillstream/ingest

The store's terminal API: POS transactions over REST into the store's Kafka broker.
Configured by environment variables only:

${envHelp(ingestEnv)}
`);
  process.exit(0);
}

const service = await startIngest(loadEnv());
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
