import { afterEach, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { requiredEnv } from '@tillstream/config';
import { hqEnv } from '@tillstream/hq';
import { ingestEnv } from '@tillstream/ingest';
import { inventoryEnv } from '@tillstream/inventory';
import { syncEnv } from '@tillstream/sync';
import { trendsEnv } from '@tillstream/trends';

const SERVICES: Record<string, z.ZodObject> = { ingest: ingestEnv, inventory: inventoryEnv, trends: trendsEnv, sync: syncEnv, hq: hqEnv };

const argv = process.argv;
afterEach(() => {
  process.argv = argv;
  vi.restoreAllMocks();
});

/** What `node services/<service>/src/main.ts --help` prints: the real main module, run in this process (spawning five tsx processes took 30 s). */
async function help(service: string): Promise<string> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  process.argv = [argv[0]!, `services/${service}/src/main.ts`, '--help'];
  await import(`../services/${service}/src/main.ts`);
  return stdout;
}

// HQ's usage line named a STORE_ID that HQ does not take (one usage string served every service), and an
// admin token's 24-character minimum appeared nowhere in --help: the text was written beside the schema, not from it.
describe('every service --help, from its env schema', () => {
  it.for(Object.keys(SERVICES))('%s: the usage line names exactly the variables it cannot start without, and every variable is listed with its rules', async (service) => {
    const schema = SERVICES[service]!;
    const stdout = await help(service);
    const usage = stdout.split('\n')[0]!;
    expect([...usage.matchAll(/([A-Z][A-Z0-9_]+)=<value>/g)].map((m) => m[1])).toEqual(requiredEnv(schema));
    expect(usage).toMatch(new RegExp(` npm start -w @tillstream/${service}$`));
    for (const [name, field] of Object.entries(schema.shape)) {
      const line = stdout.split('\n').find((l) => l.startsWith(`  ${name} `));
      expect(line, `${name} in ${service} --help`).toBeDefined();
      expect(line).toContain((field as z.ZodType).description ?? '');
      expect(line).toMatch(/\((required|optional|default: .+)\)$/);
    }
    // The lines are the schema's, and only the schema's.
    const listed = stdout.split('\n').filter((l) => /^ {2}[A-Z][A-Z0-9_]+ /.test(l)).map((l) => l.trim().split(' ')[0]);
    expect(listed).toEqual(Object.keys(schema.shape));
  });
});
