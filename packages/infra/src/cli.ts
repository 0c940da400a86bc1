#!/usr/bin/env node
import { errorCode } from '@tillstream/contracts';
import { envHelp, logEnv, parseEnv } from '@tillstream/config';
import { createLogger } from '@tillstream/observability';
import { flagsEnv, infraConfigFromEnv, infraEnv } from './env.ts';
import { down, status, up } from './infra.ts';

const HELP = `Usage: npm run infra:<up|down|status>   (or: npx tsx --conditions=development packages/infra/src/cli.ts <command>)

Local infrastructure for Tillstream on this machine, without Docker.

Commands:
  up      Start what is not running: PostgreSQL and Redis (Debian's servers, only if down),
          the store Kafka broker (127.0.0.1:9092) and the HQ broker (127.0.0.1:9192)
          (--hq-brokers N: HQ as a KRaft cluster of one controller on 127.0.0.1:9193 and
          N brokers on 9192, 9194, 9196, ...: replication factor 3, min.insync.replicas 2,
          12 partitions per hq.* topic, internal topics replicated too),
          resolving the Kafka jars from Maven Central with mvn on first use; then create
          the unprefixed topics and grant every service principal its ACLs. Idempotent.
          The brokers listen SASL_SSL only (SCRAM-SHA-512, ACLs): the CA is
          <state dir>/ca/ca.crt, each principal's password in <state dir>/kafka-credentials.json.
  down    Stop exactly what 'up' started. Nothing running: no-op.
  status  Show each broker (pid, port, log file) and whether Redis answers.
          down and status know HQ's layout from the last 'up' of the state directory.

Options:
  --hq-brokers N   HQ's broker count (same as HQ_KAFKA_BROKER_COUNT=N).
  --state-dir DIR  Same as TILLSTREAM_STATE_DIR=DIR (a private cluster beside the shared one).

Environment:

${envHelp(infraEnv.extend(logEnv.shape))}
`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  // `npm run infra:up -- --help` arrives as "up --help": help, never a start.
  if (!command || command === 'help' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return command ? 0 : 1;
  }
  const logger = createLogger({ name: 'infra', level: parseEnv(logEnv, process.env).LOG_LEVEL, pretty: true });
  const config = infraConfigFromEnv({ ...process.env, ...flagsEnv(argv.slice(1)) }, logger);
  switch (command) {
    case 'up': {
      const started = await up(config);
      const running = config.brokers.map((b) => `${b.name} kafka 127.0.0.1:${b.port}`).join(', ');
      console.log(`infra up: ${running}; started now: ${[...started.brokers.map((b) => `kafka-${b}`), ...(started.postgres ? ['postgres'] : []), ...(started.redis ? ['redis'] : [])].join(', ') || 'nothing (already running)'}`);
      return 0;
    }
    case 'down': {
      const stopped = await down(config);
      console.log(`infra down: stopped ${stopped.join(', ') || 'nothing (nothing running)'}`);
      return 0;
    }
    case 'status': {
      const s = await status(config);
      for (const b of s.brokers) {
        console.log(`kafka-${b.name}\t${b.running ? 'running' : 'stopped'}\t127.0.0.1:${b.port}\t${b.pid ? `pid ${b.pid}` : ''}\t${b.logFile}`);
      }
      console.log(`redis\t${s.redis ? 'running' : 'down'}\t${config.redisUrl}`);
      return s.brokers.every((b) => b.running) && s.redis ? 0 : 3;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${HELP}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // One clear line, not a stack: the message says what to do.
    process.stderr.write(`infra: ${errorCode(err) ? `[${errorCode(err)}] ` : ''}${(err as Error).message}\n`);
    process.exit(2);
  },
);
