import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { z } from 'zod';
import { hqEnv } from '@tillstream/hq';
import { ingestEnv } from '@tillstream/ingest';
import { inventoryEnv } from '@tillstream/inventory';
import { syncEnv } from '@tillstream/sync';
import { trendsEnv } from '@tillstream/trends';

/**
 * No Docker engine on this project's machines: the compose files are checked
 * by reading them. What a deployment from them gets is what these assert:
 * only ingest published (HQ's file: only HQ), every service HTTPS with its
 * certificates as compose secrets, no password with a default, every
 * service's environment accepted by its own env schema.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');

interface Service {
  environment?: Record<string, string | number>;
  ports?: string[];
  networks?: string[];
  secrets?: string[];
  healthcheck?: { test: string[] };
  build?: unknown;
  image?: string;
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  networks: Record<string, { internal?: boolean }>;
}

/** Every ${...} interpolation in a compose file. */
const interpolations = (text: string) => [...text.matchAll(/\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}/g)].map((m) => ({ name: m[1]!, operator: m[2], rest: m[3] }));

/** Compose's interpolation with the operator's answers (`:?` vars must be set; `:-` takes its default). */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}/g, (_all, name: string, op: string | undefined, rest: string) => {
    if (vars[name] !== undefined) return vars[name];
    if (op === '-') return rest;
    throw new Error(`\${${name}} is required and has no value in the test`);
  });
}

const OPERATOR = {
  STORE_ID: 'S001',
  POSTGRES_PASSWORD: 'a-password-from-the-operator',
  HQ_URL: 'https://hq.example.com:8443',
  HQ_TOKEN: 'st_from-tillstream-store-add',
  TERMINAL_LAN_ADDRESS: '10.20.0.2',
  HQ_PUBLISH_ADDRESS: '203.0.113.10',
};
const load = (file: string) => parse(interpolate(read(file), OPERATOR), { merge: true }) as Compose;

const SCHEMAS: Record<string, z.ZodType> = { ingest: ingestEnv, inventory: inventoryEnv, trends: trendsEnv, sync: syncEnv, hq: hqEnv };

describe.each([
  { file: 'docker-compose.yml', published: ['ingest'], tillstream: ['ingest', 'inventory', 'trends', 'sync'] },
  { file: 'docker-compose.hq.yml', published: ['hq'], tillstream: ['hq'] },
])('$file', ({ file, published, tillstream }) => {
  const compose = load(file);

  it(`publishes ${published.join(', ')} only, on an address the operator names, never on every interface`, () => {
    const withPorts = Object.entries(compose.services).filter(([, s]) => s.ports?.length).map(([name]) => name);
    expect(withPorts).toEqual(published);
    for (const name of published) {
      for (const port of compose.services[name]!.ports!) expect(port).toMatch(/^(\d{1,3}\.){3}\d{1,3}:\d+:\d+$/);
      expect(read(file)).not.toMatch(/ports:\s*\n\s*- "\d+:\d+"/);
    }
  });

  it('keeps everything but the published service and sync on internal networks', () => {
    const open = Object.entries(compose.networks).filter(([, n]) => n.internal !== true).map(([name]) => name);
    for (const [name, service] of Object.entries(compose.services)) {
      const outside = (service.networks ?? ['default']).filter((n) => n === 'default' || open.includes(n));
      if (published.includes(name) || name === 'sync') expect(outside, name).toHaveLength(1);
      else expect(outside, `${name} must be on internal networks only`).toEqual([]);
    }
  });

  it('gives no password, token or key a default: each must be set (${VAR:?})', () => {
    for (const v of interpolations(read(file))) {
      if (/PASSWORD|TOKEN|SECRET|KEY/.test(v.name)) expect(v.operator, v.name).toBe(':?');
      if (v.operator === ':-') expect(v.name, `${v.name} has a default`).toMatch(/^(CERTS_DIR|STORE_TIME_ZONE)$/);
    }
    expect(read(file)).not.toMatch(/PASSWORD: (?!\$\{)/);
  });

  it('serves HTTPS with certificates mounted as compose secrets, and checks health over HTTPS', () => {
    for (const name of tillstream) {
      const service = compose.services[name]!;
      const env = service.environment!;
      expect(env.HOST, name).toBe('0.0.0.0');
      expect(env.ALLOW_PLAIN_HTTP, name).toBeUndefined();
      for (const variable of ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'NODE_EXTRA_CA_CERTS', 'TLS_CLIENT_CA_FILE', 'HQ_CLIENT_CERT_FILE', 'HQ_CLIENT_KEY_FILE', 'HQ_CA_FILE']) {
        const path = env[variable];
        if (path === undefined) continue;
        const secret = /^\/run\/secrets\/([a-z_]+)$/.exec(String(path))?.[1];
        expect(secret, `${name} ${variable}`).toBeDefined();
        expect(service.secrets, `${name} mounts ${secret}`).toContain(secret);
        expect(compose.secrets[secret!]?.file, `secret ${secret}`).toMatch(/^\.\/certs\//);
      }
      expect(env.TLS_CERT_FILE && env.TLS_KEY_FILE, name).toBeTruthy();
      expect(service.healthcheck!.test.join(' '), name).toContain("fetch('https://127.0.0.1:");
      for (const [key, value] of Object.entries(env)) if (/_URL$/.test(key) && /^https?:/.test(String(value))) expect(String(value), `${name} ${key}`).toMatch(/^https:/);
    }
  });

  it("gives each service an environment its own env schema accepts", () => {
    for (const name of tillstream) {
      const env = Object.fromEntries(Object.entries(compose.services[name]!.environment!).map(([k, v]) => [k, String(v)]));
      const parsed = SCHEMAS[name]!.safeParse(env);
      expect(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`), name).toEqual([]);
    }
  });
});

describe('the store and HQ templates', () => {
  it('keep HQ out of the store file (it runs in another data centre) and verify store certificates at HQ', () => {
    const store = load('docker-compose.yml');
    const hq = load('docker-compose.hq.yml');
    expect(Object.keys(store.services).filter((s) => s.includes('hq'))).toEqual([]);
    expect(hq.services.hq!.environment!.TLS_CLIENT_CA_FILE).toBe('/run/secrets/chain_ca');
    expect(store.services.sync!.environment!.HQ_CLIENT_CERT_FILE).toBe('/run/secrets/hq_client_cert');
  });

  it('cannot be started without the operator setting every secret value', () => {
    for (const file of ['docker-compose.yml', 'docker-compose.hq.yml']) {
      const { POSTGRES_PASSWORD: _, ...withoutPassword } = OPERATOR;
      expect(() => interpolate(read(file), withoutPassword)).toThrow(/POSTGRES_PASSWORD/);
    }
  });
});
