import { z } from 'zod';
import { bool, httpEnv, parseEnv, postgresEnv } from '@tillstream/config';
import { consumerServiceEnv } from '@tillstream/consumer-service';

const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be an IANA time zone such as Europe/London' },
);

/** Everything the trends service reads from the environment; fails at boot with every bad variable named. */
export const trendsEnv = z.object({
  ...consumerServiceEnv.shape,
  ...postgresEnv('trends').shape,
  ...httpEnv(8082).shape,
  STORE_TIME_ZONE: timeZone.default('UTC').describe("The store's IANA time zone: 5-minute and hourly windows follow occurredAt in it."),
  ANOMALY_THRESHOLD: z.coerce.number().positive().default(3.5).describe('Robust deviations (median absolute deviation x 1.4826) from the baseline median that make an anomaly.'),
  ANOMALY_BASELINE_WEEKS: z.coerce.number().int().min(2).max(52).default(8).describe('Weeks of the same weekday and hour an hour is compared with.'),
  PUBLISH_SETTLED_WHILE_CATCHING_UP: bool
    .default(false)
    .describe('While catching up (PUBLISH_HOLD_LAG), publish 5-minute and hourly windows event time has moved 2 hours past alongside the booking instead of after it. Off: on a loaded 2-core machine it slowed the catch-up (BENCHMARKS.md, issue 19).'),
});

export type TrendsEnv = z.output<typeof trendsEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): TrendsEnv {
  return parseEnv(trendsEnv, env);
}
