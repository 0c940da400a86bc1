import { z } from 'zod';
import { logEnv, parseEnv } from '@tillstream/config';

/** Defaults the CLI takes from the environment; flags override them. */
export const cliEnv = parseEnv(
  z.object({
    ...logEnv.shape,
    /** PostgreSQL server; a store's database is tillstream_store_<store id, lower-case>. */
    POSTGRES_URL: z.url().default('postgres://postgres@127.0.0.1:5432/postgres'),
    /** A store database URL, when it is not the default name. */
    DATABASE_URL: z.url().optional(),
  }),
  process.env,
);
