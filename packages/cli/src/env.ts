import { z } from 'zod';
import { logEnv, parseEnv, postgresServerEnv } from '@tillstream/config';

/** Defaults the CLI takes from the environment; flags override them. */
export const cliEnv = parseEnv(
  z.object({
    ...logEnv.shape,
    /** POSTGRES_URL: a store's database is tillstream_store_<store id, lower-case> on it. */
    ...postgresServerEnv.shape,
    /** A store database URL, when it is not the default name. */
    DATABASE_URL: z.url().optional(),
    /** HQ's database URL, when it is not tillstream_hq on POSTGRES_URL. */
    HQ_DATABASE_URL: z.url().optional(),
  }),
  process.env,
);
