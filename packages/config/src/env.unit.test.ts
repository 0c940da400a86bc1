import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bool, csv, envHelp, envUsage, positiveInt, requiredEnv } from './env.ts';

const schema = z.object({
  STORE_ID: z.string().describe('This store.'),
  ADMIN_TOKEN: z.string().min(24).describe('The admin credential.'),
  MODE: z.enum(['fast', 'safe']).default('safe').describe('How to run.'),
  SESSION_MS: z.coerce.number().int().min(6000).max(300_000).default(10_000).describe('Session timeout.'),
  INTERVAL_MS: positiveInt.default(1000).describe('How often.'),
  BROKERS: csv.default(['127.0.0.1:9092']).describe('Brokers.'),
  VERBOSE: bool.default(false).describe('Say more.'),
  URL: z.url().optional().describe('Where.'),
});

describe('--help from an env schema', () => {
  it('names the rules a value must meet and its fallback, as parsing checks them', () => {
    const lines = envHelp(schema).split('\n');
    expect(lines).toHaveLength(Object.keys(schema.shape).length);
    const line = (name: string) => lines.find((l) => l.startsWith(`  ${name} `));
    expect(line('STORE_ID')).toMatch(/This store\. \(required\)$/);
    expect(line('ADMIN_TOKEN')).toMatch(/The admin credential\. \[at least 24 characters\] \(required\)$/);
    expect(line('MODE')).toMatch(/\[one of: fast, safe\] \(default: "safe"\)$/);
    expect(line('SESSION_MS')).toMatch(/\[6000\.\.300000\] \(default: 10000\)$/);
    expect(line('INTERVAL_MS')).toMatch(/How often\. \(default: 1000\)$/);
    expect(line('BROKERS')).toMatch(/\(default: \["127\.0\.0\.1:9092"\]\)$/);
    expect(line('VERBOSE')).toMatch(/\(default: false\)$/);
    expect(line('URL')).toMatch(/\[a URL\] \(optional\)$/);
  });

  it('puts in the usage line exactly the variables without which the process cannot start', () => {
    expect(requiredEnv(schema)).toEqual(['STORE_ID', 'ADMIN_TOKEN']);
    expect(envUsage(schema, '@tillstream/x')).toBe('Usage: STORE_ID=<value> ADMIN_TOKEN=<value> [VAR=value ...] npm start -w @tillstream/x');
    expect(envUsage(z.object({ PORT: positiveInt.default(1) }), '@tillstream/y')).toBe('Usage: [VAR=value ...] npm start -w @tillstream/y');
  });
});
