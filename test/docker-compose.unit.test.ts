import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { z } from 'zod';
import { hqEnv } from '@tillstream/hq';
import { syncRedisRules } from '@tillstream/infra';
import { ingestEnv } from '@tillstream/ingest';
import { inventoryEnv } from '@tillstream/inventory';
import { KAFKA_ADMIN_PRINCIPAL, KAFKA_PRINCIPALS } from '@tillstream/kafka';
import { syncEnv } from '@tillstream/sync';
import { trendsEnv } from '@tillstream/trends';

/**
 * No Docker engine on this project's machines: the compose files are checked
 * by reading them. What a deployment from them gets is what these assert:
 * only ingest published (HQ's file: only HQ), every service HTTPS with its
 * certificates as compose secrets, every password a secret file (or a
 * `${VAR:?}` the operator must set), each service its own Kafka principal,
 * PostgreSQL role and Redis user, brokers SASL_SSL only with an authorizer,
 * services started only after the migrate and provision init steps, and
 * every service's environment accepted by its own env schema. The rules are
 * functions of the file's text, so the last tests can show that each one
 * fails on a template that breaks it.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');

type SecretMount = string | { source: string; target: string };
interface Service {
  environment?: Record<string, string | number>;
  ports?: string[];
  networks?: string[];
  secrets?: SecretMount[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  restart?: string;
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
  KAFKA_CLUSTER_ID: 'MkU3OEVBNTcwNTJENDM2Qg',
  HQ_URL: 'https://hq.example.com:8443',
  HQ_TOKEN: 'st_from-tillstream-store-add',
  TERMINAL_LAN_ADDRESS: '10.20.0.2',
  HQ_PUBLISH_ADDRESS: '203.0.113.10',
};
const loadText = (text: string) => parse(interpolate(text, OPERATOR), { merge: true }) as Compose;
/** The file as written: `${...}` left as it is, to see what a value is made of. */
const loadRaw = (text: string) => parse(text, { merge: true }) as Compose;

const SCHEMAS: Record<string, z.ZodType> = { ingest: ingestEnv, inventory: inventoryEnv, trends: trendsEnv, sync: syncEnv, hq: hqEnv };

/** Where each of a service's secrets is mounted: path in the container -> secret. */
function mounts(service: Service): Map<string, string> {
  return new Map(
    (service.secrets ?? []).map((m) => {
      if (typeof m === 'string') return [`/run/secrets/${m}`, m];
      return [m.target.startsWith('/') ? m.target : `/run/secrets/${m.target}`, m.source];
    }),
  );
}

interface Template {
  file: string;
  cluster: 'store' | 'hq';
  /** The cluster's Kafka nodes. */
  brokers: string[];
  /** Name of their key-and-certificate PEM in certs/servers/ (one certificate naming every node). */
  pem: string;
  provision: string;
  postgres: string;
  published: string[];
  tillstream: string[];
  /** Services that run another's code by role (HQ_ROLES), as that service: its principal, role and secrets. */
  roles?: Record<string, string>;
}
const TEMPLATES: Template[] = [
  { file: 'docker-compose.yml', cluster: 'store', brokers: ['kafka-store'], pem: 'kafka-store', provision: 'kafka-store-provision', postgres: 'postgres', published: ['ingest'], tillstream: ['ingest', 'inventory', 'trends', 'sync'] },
  { file: 'docker-compose.hq.yml', cluster: 'hq', brokers: ['kafka-hq-1', 'kafka-hq-2', 'kafka-hq-3'], pem: 'kafka-hq', provision: 'kafka-hq-provision', postgres: 'postgres-hq', published: ['hq'], tillstream: ['hq'], roles: { 'hq-views': 'hq', 'hq-reconciler': 'hq' } },
];

const SENSITIVE = /PASSWORD|TOKEN|SECRET|(^|_)KEY($|_)/;

/**
 * What is wrong with a template's text, rule by rule (empty: nothing). Each
 * entry names the service and the rule, so a failure says what to fix.
 */
function violations(text: string, t: Template): string[] {
  const out: string[] = [];
  const bad = (condition: boolean, message: string) => {
    if (condition) out.push(message);
  };
  const compose = loadText(text);
  const raw = loadRaw(text);
  const services = compose.services;

  // Secrets: a *_FILE path to a mounted secret, or a value the operator must set; never a literal, never a default.
  for (const v of interpolations(text)) {
    // SECRETS_DIR and CERTS_DIR name folders; the files in them are the secrets.
    bad(SENSITIVE.test(v.name) && !/_DIR$/.test(v.name) && v.operator !== ':?', `\${${v.name}} must be \${${v.name}:?...}: no default for a secret`);
    bad(v.operator === ':-' && !/^(CERTS_DIR|SECRETS_DIR|STORE_TIME_ZONE)$/.test(v.name), `\${${v.name}} has a default`);
  }
  for (const [name, service] of Object.entries(raw.services)) {
    const paths = mounts(service);
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      const s = String(value);
      if (SENSITIVE.test(key) && key.endsWith('_FILE')) {
        bad(!paths.has(s), `${name} ${key}=${s} is not one of its mounted secrets`);
      } else if (SENSITIVE.test(key)) {
        bad(!/^\$\{[A-Z0-9_]+:\?[^}]*\}$/.test(s), `${name} ${key} is written into the file (use a *_FILE secret or \${${key}:?})`);
      }
    }
    for (const [key, value] of Object.entries(services[name]?.environment ?? {})) {
      if (!/_URL$/.test(key) || !/^[a-z]+:\/\//.test(String(value))) continue;
      bad(new URL(String(value)).password !== '', `${name} ${key} carries a password (use the *_PASSWORD_FILE secret)`);
    }
  }
  for (const [secret, { file }] of Object.entries(compose.secrets)) bad(!/^\.\/(certs|secrets)\//.test(file), `secret ${secret} comes from ${file}, not CERTS_DIR or SECRETS_DIR`);

  // Who may read which secret: a principal's password, its broker and itself (the admin's: the provision step).
  const readers = (secret: string) => [
    ...new Set(
      Object.entries(services)
        .filter(([, s]) => [...mounts(s).values()].includes(secret))
        .map(([n]) => t.roles?.[n] ?? n),
    ),
  ].sort();
  const same = (a: string[], b: string[]) => JSON.stringify(a) === JSON.stringify([...b].sort());
  const expectReaders = (secret: string, allowed: string[]) => bad(!same(readers(secret), allowed), `secret ${secret} is mounted by ${readers(secret).join(', ') || 'nobody'}, must be ${[...allowed].sort().join(', ')}`);
  expectReaders(`kafka_${KAFKA_ADMIN_PRINCIPAL}`, [...t.brokers, t.provision]);
  expectReaders('kafka_controller', t.brokers);
  expectReaders('postgres_password', [t.postgres, 'migrate']);
  expectReaders('pg_owner', ['migrate']);

  // Kafka: each service is its own principal, over TLS, with its own password.
  const migrate = services.migrate;
  const database = migrate?.command?.[migrate.command.indexOf('--database') + 1];
  const usernames = new Map<string, string[]>();
  for (const serviceName of [...t.tillstream, ...Object.keys(t.roles ?? {})]) {
    // A role's service (hq-views) is checked as the service it runs (hq).
    const name = t.roles?.[serviceName] ?? serviceName;
    const service = services[serviceName];
    if (!service) {
      out.push(`${serviceName} is missing`);
      continue;
    }
    const env = service.environment ?? {};
    const username = String(env.KAFKA_SASL_USERNAME);
    usernames.set(username, [...new Set([...(usernames.get(username) ?? []), name])]);
    bad(username !== name, `${name} connects to Kafka as "${username}", not as its own principal "${name}"`);
    bad(env.KAFKA_SASL_PASSWORD_FILE !== `/run/secrets/kafka_${name}`, `${name} must read its Kafka password from /run/secrets/kafka_${name}`);
    bad(env.KAFKA_TLS_CA_FILE !== '/run/secrets/chain_ca', `${name} must check the broker's certificate (KAFKA_TLS_CA_FILE)`);
    expectReaders(`kafka_${name}`, [...t.brokers, name]);

    // PostgreSQL: its own role, its own password, the database migrate made.
    const url = new URL(String(env.DATABASE_URL));
    bad(url.username !== `tillstream_${name}`, `${name} connects to PostgreSQL as "${url.username}", not as its own role tillstream_${name}`);
    bad(url.pathname !== `/${database}`, `${name} uses database ${url.pathname.slice(1)}, migrate makes ${database}`);
    bad(url.hostname !== t.postgres, `${name} connects to ${url.hostname}, not ${t.postgres}`);
    bad(env.DATABASE_PASSWORD_FILE !== `/run/secrets/pg_${name}`, `${name} must read its role's password from /run/secrets/pg_${name}`);
    bad(migrate !== undefined && mounts(migrate).get(`/run/secrets/pg-roles/${name}`) !== `pg_${name}`, `migrate must set tillstream_${name}'s password from pg_${name}`);
    expectReaders(`pg_${name}`, ['migrate', name]);

    // Started only once the schema, the roles, the topics and the ACLs exist; alive is /healthz (/readyz needs a viewer's token).
    for (const init of ['migrate', t.provision]) bad(service.depends_on?.[init]?.condition !== 'service_completed_successfully', `${name} must wait for ${init} (service_completed_successfully)`);
    const health = service.healthcheck?.test.join(' ') ?? '';
    bad(!health.includes("fetch('https://127.0.0.1:") || !health.includes('/healthz'), `${name}'s healthcheck must fetch https://127.0.0.1:<port>/healthz`);
  }
  for (const [username, names] of usernames) bad(names.length > 1, `${names.join(' and ')} share the Kafka principal "${username}"`);

  // The init steps: run once, each after what it provisions is healthy.
  bad(migrate?.restart !== 'no' || migrate.depends_on?.[t.postgres]?.condition !== 'service_healthy', `migrate must run once (restart "no") after ${t.postgres} is healthy`);
  bad(!/^tillstream_(store|hq)$/.test(database ?? '') || !migrate?.command?.join(' ').includes(`migrate --target ${t.cluster} `), `migrate must run \`tillstream migrate --target ${t.cluster} --database ...\``);
  const provision = services[t.provision];
  for (const b of t.brokers) bad(provision?.restart !== 'no' || provision.depends_on?.[b]?.condition !== 'service_healthy', `${t.provision} must run once (restart "no") after ${b} is healthy`);
  bad(provision?.command?.join(' ') !== `node packages/cli/bin/tillstream.js kafka provision${t.cluster === 'hq' ? ' --hq' : ''}`, `${t.provision} must run \`tillstream kafka provision\``);
  bad(provision?.environment?.KAFKA_SASL_USERNAME !== KAFKA_ADMIN_PRINCIPAL || provision.environment.KAFKA_SASL_PASSWORD_FILE !== '/run/secrets/kafka_admin', `${t.provision} must connect as the broker's admin`);

  // The brokers: deploy/kafka-broker.sh with SCRAM credentials for exactly the cluster's principals.
  for (const b of t.brokers) {
    const broker = services[b];
    const brokerMounts = broker ? mounts(broker) : new Map<string, string>();
    bad(broker?.entrypoint?.join(' ') !== 'sh /opt/tillstream/kafka-broker.sh' || !broker.volumes?.includes('./deploy/kafka-broker.sh:/opt/tillstream/kafka-broker.sh:ro'), `${b} must start with deploy/kafka-broker.sh`);
    bad(String(broker?.environment?.KAFKA_PRINCIPALS) !== KAFKA_PRINCIPALS[t.cluster].join(' '), `${b} must create SCRAM credentials for ${KAFKA_PRINCIPALS[t.cluster].join(', ')}`);
    bad(!/^\$\{KAFKA_CLUSTER_ID:\?/.test(String(raw.services[b]?.environment?.KAFKA_CLUSTER_ID)), `${b} must take a fixed KAFKA_CLUSTER_ID the operator sets`);
    bad(brokerMounts.get('/etc/kafka/secrets/broker.pem') !== 'kafka_broker_pem' || brokerMounts.get('/etc/kafka/secrets/ca.crt') !== 'chain_ca', `${b} must mount its key and chain at /etc/kafka/secrets/broker.pem and the CA at ca.crt`);
    bad(!broker?.healthcheck?.test.join(' ').includes('--bootstrap-server localhost:9092 --command-config /tmp/kafka/admin.properties'), `${b}'s healthcheck must authenticate (SASL_SSL only)`);
  }
  bad(compose.secrets.kafka_broker_pem?.file !== `./certs/servers/${t.pem}.pem`, `kafka_broker_pem must be certs/servers/${t.pem}.pem`);
  out.push(...clusterViolations(compose, t));

  // Redis (the store's): bounded, never evicting jobs, users from an ACL file.
  if (t.cluster === 'store') {
    const redis = services.redis;
    const command = redis?.command ?? [];
    const arg = (flag: string) => command[command.indexOf(flag) + 1];
    bad(!command.includes('--maxmemory') || !/^\d+[kmg]b$/.test(arg('--maxmemory') ?? ''), 'redis must have --maxmemory');
    bad(arg('--maxmemory-policy') !== 'noeviction', 'redis must have --maxmemory-policy noeviction (evicting drops jobs)');
    bad(redis === undefined || mounts(redis).get(arg('--aclfile') ?? '') !== 'redis_acl', 'redis must load its users from the redis_acl secret (--aclfile)');
    const sync = services.sync?.environment ?? {};
    bad(new URL(String(sync.REDIS_URL)).username !== 'tillstream_sync' || sync.REDIS_PASSWORD_FILE !== '/run/secrets/redis_sync', 'sync must connect to Redis as tillstream_sync with the redis_sync secret');
    expectReaders('redis_sync', ['sync']);
    expectReaders('redis_acl', ['redis']);
  }
  return [...new Set(out)];
}

/**
 * The cluster's shape: the store's one node keeps the script's one-node
 * defaults; HQ's is at least three nodes, each a voter of one quorum with
 * its own node id, replicating its defaults and internal topics three times
 * with min.insync.replicas 2, and every client (provisioning, HQ) given
 * every node to bootstrap from.
 */
function clusterViolations(compose: Compose, t: Template): string[] {
  const out: string[] = [];
  const bad = (condition: boolean, message: string) => {
    if (condition) out.push(message);
  };
  const env = (b: string) => compose.services[b]?.environment ?? {};
  if (t.cluster === 'store') {
    for (const b of t.brokers) bad(env(b).KAFKA_REPLICATION_FACTOR !== undefined || env(b).KAFKA_CONTROLLER_QUORUM_VOTERS !== undefined, `${b} is one node: the script's defaults`);
    return out;
  }
  bad(t.brokers.length < 3, `HQ's cluster must have at least 3 nodes, has ${t.brokers.length}`);
  const ids = t.brokers.map((b) => String(env(b).KAFKA_NODE_ID));
  bad(new Set(ids).size !== t.brokers.length, `HQ's nodes must have distinct KAFKA_NODE_IDs, have ${ids.join(', ')}`);
  const voters = t.brokers.map((b, i) => `${ids[i]}@${b}:9093`).join(',');
  const addresses = t.brokers.map((b) => `${b}:9092`).join(',');
  for (const b of t.brokers) {
    const e = env(b);
    bad(String(e.KAFKA_REPLICATION_FACTOR) !== '3' || String(e.KAFKA_MIN_INSYNC_REPLICAS) !== '2', `${b} must replicate its defaults and internal topics 3 times with min.insync.replicas 2`);
    bad(String(e.KAFKA_CONTROLLER_QUORUM_VOTERS) !== voters, `${b}'s quorum must be every node: ${voters}`);
    bad(String(e.KAFKA_ADVERTISED_HOST) !== b, `${b} must advertise itself as ${b}`);
    bad(e.KAFKA_CONTROLLER_PROTOCOL !== 'SASL_SSL', `${b}'s controller traffic crosses the network: KAFKA_CONTROLLER_PROTOCOL must be SASL_SSL`);
  }
  bad(String(compose.services[t.provision]?.environment?.HQ_KAFKA_BROKERS) !== addresses, `${t.provision} must bootstrap from every node (${addresses})`);
  for (const name of t.tillstream) bad(String(compose.services[name]?.environment?.HQ_KAFKA_BROKERS) !== addresses, `${name} must bootstrap from every node (${addresses})`);
  return out;
}

describe.each(TEMPLATES)('$file', (t) => {
  const { file, published, tillstream } = t;
  const compose = loadText(read(file));

  it('breaks none of the rules: secrets as files or required values, own principal, own role, own Redis user, init steps first, brokers secured', () => {
    expect(violations(read(file), t)).toEqual([]);
  });

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

  it('serves HTTPS with certificates mounted as compose secrets', () => {
    for (const name of tillstream) {
      const service = compose.services[name]!;
      const env = service.environment!;
      expect(env.HOST, name).toBe('0.0.0.0');
      expect(env.ALLOW_PLAIN_HTTP, name).toBeUndefined();
      for (const variable of ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'NODE_EXTRA_CA_CERTS', 'TLS_CLIENT_CA_FILE', 'HQ_CLIENT_CERT_FILE', 'HQ_CLIENT_KEY_FILE', 'HQ_CA_FILE', 'KAFKA_TLS_CA_FILE']) {
        const path = env[variable];
        if (path === undefined) continue;
        const secret = mounts(service).get(String(path));
        expect(secret, `${name} ${variable} is a mounted secret`).toBeDefined();
        expect(compose.secrets[secret!]?.file, `secret ${secret}`).toMatch(/^\.\/certs\//);
      }
      expect(env.TLS_CERT_FILE && env.TLS_KEY_FILE, name).toBeTruthy();
      for (const [key, value] of Object.entries(env)) if (/_URL$/.test(key) && /^https?:/.test(String(value))) expect(String(value), `${name} ${key}`).toMatch(/^https:/);
    }
  });

  it('gives each service an environment its own env schema accepts', () => {
    for (const name of [...tillstream, ...Object.keys(t.roles ?? {})]) {
      const env = Object.fromEntries(Object.entries(compose.services[name]!.environment!).map(([k, v]) => [k, String(v)]));
      const parsed = SCHEMAS[t.roles?.[name] ?? name]!.safeParse(env);
      expect(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`), name).toEqual([]);
    }
  });
});

describe('deploy/kafka-broker.sh', () => {
  const script = read('deploy/kafka-broker.sh');
  const serverProperties = Object.fromEntries(
    /cat > "\$props" <<PROPS\n([\s\S]*?)\nPROPS/
      .exec(script)![1]!
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

  it('listens SASL_SSL only (SCRAM-SHA-512), the controller on loopback, with StandardAuthorizer denying what no ACL allows', () => {
    expect(serverProperties).toMatchObject({
      listeners: 'SASL_SSL://:9092,CONTROLLER://${controller_listen}',
      'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,CONTROLLER:${controller_protocol}',
      'inter.broker.listener.name': 'SASL_SSL',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
      'sasl.mechanism.controller.protocol': 'PLAIN',
      'listener.name.controller.sasl.enabled.mechanisms': 'PLAIN',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': '/etc/kafka/secrets/broker.pem',
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': '/etc/kafka/secrets/ca.crt',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'allow.everyone.if.no.acl.found': 'false',
      'super.users': `User:${KAFKA_ADMIN_PRINCIPAL};User:controller`,
      'auto.create.topics.enable': 'false',
    });
    expect(serverProperties['advertised.listeners']).toBe('SASL_SSL://${KAFKA_ADVERTISED_HOST}:9092');
    expect(Object.values(serverProperties).filter((v) => /(^|[,:/])PLAINTEXT(:|$)/.test(v))).toEqual([]);
    // Passwords come from the secrets at start, never from this committed file.
    expect(serverProperties['listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config']).toContain(`username="${KAFKA_ADMIN_PRINCIPAL}" password="\${admin}"`);
    expect(serverProperties['listener.name.controller.plain.sasl.jaas.config']).toContain('password="${controller}" user_controller="${controller}"');
    expect(script).toContain('secret() { tr -d \'\\r\\n\' < "/run/secrets/kafka_$1"; }');
    // One node by default (the store's): the controller on loopback, nothing replicated; a cluster's nodes say otherwise.
    expect(script).toContain('controller_listen=${KAFKA_CONTROLLER_LISTEN:-localhost:9093}');
    expect(script).toContain('controller_protocol=${KAFKA_CONTROLLER_PROTOCOL:-SASL_PLAINTEXT}');
    expect(script).toContain('replication=${KAFKA_REPLICATION_FACTOR:-1}');
    for (const key of ['default.replication.factor', 'offsets.topic.replication.factor', 'transaction.state.log.replication.factor']) expect(serverProperties[key]).toBe('${replication}');
    for (const key of ['min.insync.replicas', 'transaction.state.log.min.isr']) expect(serverProperties[key]).toBe('${min_isr}');
  });

  it('creates a SCRAM credential for the admin and each principal at format, then runs the broker', () => {
    expect(script).toContain('for principal in admin $KAFKA_PRINCIPALS; do');
    expect(script).toContain('--add-scram "SCRAM-SHA-512=[name=${principal},password=$(secret "$principal")]"');
    expect(script).toMatch(/kafka-storage\.sh format --ignore-formatted -t "\$KAFKA_CLUSTER_ID" -c "\$props" "\$@"\nexec \/opt\/kafka\/bin\/kafka-server-start\.sh "\$props"\n$/);
  });
});

describe('the store and HQ templates', () => {
  it('keep HQ out of the store file (it runs in another data centre) and verify store certificates at HQ', () => {
    const store = loadText(read('docker-compose.yml'));
    const hq = loadText(read('docker-compose.hq.yml'));
    expect(Object.keys(store.services).filter((s) => s.includes('hq'))).toEqual([]);
    expect(hq.services.hq!.environment!.TLS_CLIENT_CA_FILE).toBe('/run/secrets/chain_ca');
    expect(store.services.sync!.environment!.HQ_CLIENT_CERT_FILE).toBe('/run/secrets/hq_client_cert');
  });

  it('cannot be started without the operator setting every required value', () => {
    for (const file of ['docker-compose.yml', 'docker-compose.hq.yml']) {
      const { KAFKA_CLUSTER_ID: _, ...without } = OPERATOR;
      expect(() => interpolate(read(file), without)).toThrow(/KAFKA_CLUSTER_ID/);
    }
    const { HQ_TOKEN: _, ...withoutToken } = OPERATOR;
    expect(() => interpolate(read('docker-compose.yml'), withoutToken)).toThrow(/HQ_TOKEN/);
  });

  it("documents the Redis ACL file with syncRedisRules' rules, the password as its SHA-256", () => {
    const rules = syncRedisRules('PASSWORD').map((r) => (r === '>PASSWORD' ? '#%s' : r));
    expect(read('docs/deployment.md')).toContain(`user default on nopass -@all +ping\\nuser tillstream_sync ${rules.join(' ')}\\n`);
  });
});

describe('the rules bite: each fails on a template that breaks it', () => {
  const store = TEMPLATES[0]!;
  const hq = TEMPLATES[1]!;
  const broken = (t: Template, from: string, to: string) => {
    const text = read(t.file);
    expect(text, `the template contains ${JSON.stringify(from)}`).toContain(from);
    return violations(text.replace(from, to), t).join('\n');
  };

  it.each([
    { t: store, why: 'a shared Kafka principal', from: 'KAFKA_SASL_USERNAME: trends', to: 'KAFKA_SASL_USERNAME: ingest', expected: /trends connects to Kafka as "ingest"[\s\S]*ingest and trends share the Kafka principal "ingest"/ },
    { t: store, why: "another service's Kafka password", from: 'KAFKA_SASL_PASSWORD_FILE: /run/secrets/kafka_trends', to: 'KAFKA_SASL_PASSWORD_FILE: /run/secrets/kafka_ingest', expected: /trends must read its Kafka password from \/run\/secrets\/kafka_trends/ },
    { t: store, why: 'a Kafka password in the file', from: 'KAFKA_SASL_PASSWORD_FILE: /run/secrets/kafka_ingest', to: 'KAFKA_SASL_PASSWORD: not-a-secret-any-more', expected: /ingest KAFKA_SASL_PASSWORD is written into the file/ },
    { t: store, why: 'a default token', from: '${HQ_TOKEN:?', to: '${HQ_TOKEN:-st_default', expected: /\$\{HQ_TOKEN\} must be \$\{HQ_TOKEN:\?\.\.\.\}/ },
    { t: store, why: 'a password in a database URL', from: 'postgres://tillstream_ingest@', to: 'postgres://tillstream_ingest:hunter2@', expected: /ingest DATABASE_URL carries a password/ },
    { t: store, why: 'a shared database role', from: 'postgres://tillstream_sync@', to: 'postgres://tillstream_owner@', expected: /sync connects to PostgreSQL as "tillstream_owner"/ },
    { t: store, why: 'a service not waiting for the init steps', from: 'condition: service_completed_successfully', to: 'condition: service_started', expected: /ingest must wait for migrate/ },
    { t: store, why: 'a health check on /readyz', from: "8082/healthz'", to: "8082/readyz'", expected: /trends's healthcheck must fetch/ },
    { t: store, why: 'Redis evicting', from: '"noeviction"', to: '"allkeys-lru"', expected: /noeviction/ },
    { t: store, why: 'Redis without its ACL file', from: ', "--aclfile", "/run/secrets/redis_acl"', to: '', expected: /redis must load its users/ },
    { t: store, why: 'a broker without a principal', from: 'KAFKA_PRINCIPALS: ingest inventory trends sync', to: 'KAFKA_PRINCIPALS: ingest inventory trends', expected: /kafka-store must create SCRAM credentials/ },
    { t: hq, why: 'HQ as the admin principal', from: 'KAFKA_SASL_USERNAME: hq', to: `KAFKA_SASL_USERNAME: ${KAFKA_ADMIN_PRINCIPAL}`, expected: /hq connects to Kafka as "admin"/ },
    { t: hq, why: "the admin's password given to HQ", from: 'secrets: [chain_ca, hq_tls_cert, hq_tls_key, kafka_hq, pg_hq]', to: 'secrets: [chain_ca, hq_tls_cert, hq_tls_key, kafka_hq, pg_hq, kafka_admin]', expected: /secret kafka_admin is mounted by hq, kafka-hq-1, kafka-hq-2, kafka-hq-3, kafka-hq-provision/ },
    { t: hq, why: 'HQ on one replica', from: 'KAFKA_REPLICATION_FACTOR: 3', to: 'KAFKA_REPLICATION_FACTOR: 1', expected: /kafka-hq-1 must replicate its defaults and internal topics 3 times/ },
    { t: hq, why: 'HQ given one broker to bootstrap from', from: '        HQ_KAFKA_BROKERS: kafka-hq-1:9092,kafka-hq-2:9092,kafka-hq-3:9092\n        KAFKA_TLS_CA_FILE: /run/secrets/chain_ca\n        KAFKA_SASL_USERNAME: hq', to: '        HQ_KAFKA_BROKERS: kafka-hq-1:9092\n        KAFKA_TLS_CA_FILE: /run/secrets/chain_ca\n        KAFKA_SASL_USERNAME: hq', expected: /hq must bootstrap from every node/ },
  ])('$t.file with $why', ({ t, from, to, expected }) => {
    expect(broken(t, from, to)).toMatch(expected);
  });
});
