import type { z } from 'zod';
import { EnvError, envHelp, envUsage, parseEnv } from '@tillstream/config';

export interface ServiceMainOptions<S extends z.ZodObject> {
  /** The npm workspace, for the usage line: "@tillstream/ingest". */
  workspace: string;
  /** What the service does, a few lines. */
  description: string;
  schema: S;
  argv: readonly string[];
  env: Record<string, string | undefined>;
  start: (env: z.output<S>) => Promise<{ stop(): Promise<void> }>;
}

/**
 * The body of every service's main.ts: `--help` lists the environment
 * variables (from the schema's descriptions), a bad variable exits with every
 * problem named, SIGTERM/SIGINT stop the service cleanly (once).
 */
export async function runService<S extends z.ZodObject>(options: ServiceMainOptions<S>): Promise<void> {
  if (options.argv.includes('--help') || options.argv.includes('-h')) {
    process.stdout.write(`${envUsage(options.schema, options.workspace)}

${options.description}
Configured by environment variables only:

${envHelp(options.schema)}
`);
    return;
  }
  let env: z.output<S>;
  try {
    env = parseEnv(options.schema, options.env);
  } catch (err) {
    if (!(err instanceof EnvError)) throw err;
    process.stderr.write(`${err.message}\n(--help lists every variable)\n`);
    process.exitCode = 2;
    return;
  }
  const service = await options.start(env);
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
}
