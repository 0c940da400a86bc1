import { readFileSync } from 'node:fs';
import kafkajs, { type Admin, type Kafka, type KafkaConfig } from 'kafkajs';
import { TillstreamError, deadLetterTopicName, hqTopics, storeTopics, topicName, type TopicSettings, type TopicSpec } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';
import { ensureTopics } from './admin.ts';
import type { ClusterPlacement } from './placement.ts';

// kafkajs (CommonJS) exports these enums in a way Node's ES module loader does not see as named exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

/**
 * How a client proves who it is to a Tillstream broker: TLS (the broker's
 * certificate checked against `ca`) and SASL SCRAM-SHA-512 as one principal.
 * Absent: PLAINTEXT, for a broker that is not secured.
 */
export interface KafkaSecurity {
  /** PEM of the CA that issued the broker's certificate; TLS is on whenever this is set. */
  ca?: string;
  sasl?: { username: string; password: string };
}

/** The env fields every Kafka client reads (the config package's kafkaSecurityEnv fragment). */
export interface KafkaSecurityEnv {
  KAFKA_TLS_CA_FILE?: string | undefined;
  KAFKA_SASL_USERNAME?: string | undefined;
  KAFKA_SASL_PASSWORD?: string | undefined;
  KAFKA_SASL_PASSWORD_FILE?: string | undefined;
}

/**
 * The security a service's env asks for (the CA and password files read now:
 * a missing file fails at boot). The password file (a compose secret) keeps
 * the password out of the process environment, as DATABASE_PASSWORD_FILE does.
 */
export function kafkaSecurityFromEnv(env: KafkaSecurityEnv): KafkaSecurity {
  const password = env.KAFKA_SASL_PASSWORD_FILE ? readFileSync(env.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim() : env.KAFKA_SASL_PASSWORD;
  if (env.KAFKA_SASL_PASSWORD_FILE && !password) throw new Error('invalid environment: KAFKA_SASL_PASSWORD_FILE is empty');
  if (Boolean(env.KAFKA_SASL_USERNAME) !== Boolean(password)) {
    throw new Error('invalid environment: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together (the password may come from KAFKA_SASL_PASSWORD_FILE)');
  }
  // SCRAM never sends the password, but the session after it (every sale) would travel in the clear.
  if (env.KAFKA_SASL_USERNAME && !env.KAFKA_TLS_CA_FILE) {
    throw new Error('invalid environment: Kafka SASL credentials are only used over TLS; set KAFKA_TLS_CA_FILE');
  }
  return {
    ...(env.KAFKA_TLS_CA_FILE ? { ca: readFileSync(env.KAFKA_TLS_CA_FILE, 'utf8') } : {}),
    ...(env.KAFKA_SASL_USERNAME && password ? { sasl: { username: env.KAFKA_SASL_USERNAME, password } } : {}),
  };
}

/** kafkajs' ssl/sasl settings for a {@link KafkaSecurity}. */
export function kafkajsSecurity(security: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (!security) return {};
  return {
    ...(security.ca ? { ssl: { ca: [security.ca], rejectUnauthorized: true } } : {}),
    ...(security.sasl ? { sasl: { mechanism: 'scram-sha-512' as const, username: security.sasl.username, password: security.sasl.password } } : {}),
  };
}

/** Error types of a broker refusing who the client is or what it asked for: retrying cannot help. */
const REFUSALS = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'DELEGATION_TOKEN_AUTHORIZATION_FAILED',
]);

/**
 * The broker's refusal inside `err` (kafkajs wraps it in retry and
 * connection errors, sometimes several deep), or undefined when `err` is
 * something else (a broker away, a timeout), which is worth retrying.
 */
export function kafkaRefusal(err: unknown): { type: string; message: string } | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 10; depth++) {
    const { name, type, message, cause, originalError } = e as { name?: string; type?: string; message?: string; cause?: unknown; originalError?: unknown };
    if (name === 'KafkaJSSASLAuthenticationError') return { type: 'SASL_AUTHENTICATION_FAILED', message: message ?? 'SASL authentication failed' };
    if (type && REFUSALS.has(type)) return { type, message: message ?? type };
    e = originalError ?? cause;
  }
  return undefined;
}

/**
 * Thrown where a broker refused this process' principal: not retried, and
 * said plainly (in the log and on /readyz) so an operator fixes the
 * credentials or the ACLs instead of watching a retry loop.
 */
export class KafkaAccessDenied extends TillstreamError {
  constructor(
    readonly refusal: { type: string; message: string },
    readonly principal: string | undefined,
    doing: string,
  ) {
    super(
      'KAFKA_ACCESS_DENIED',
      `the Kafka broker refused ${principal ? `principal "${principal}"` : 'this client (no SASL credentials)'} ${doing}: ${refusal.type} (${refusal.message}); ` +
        (refusal.type === 'SASL_AUTHENTICATION_FAILED'
          ? 'check KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD'
          : 'the principal lacks an ACL: provision them with `npx tillstream kafka provision`'),
    );
    this.name = 'KafkaAccessDenied';
  }
}

/** `err` as a {@link KafkaAccessDenied} when it is a broker's refusal; otherwise `err` unchanged. */
export function asAccessDenied(err: unknown, principal: string | undefined, doing: string): unknown {
  if (err instanceof KafkaAccessDenied) return err;
  const refusal = kafkaRefusal(err);
  return refusal ? new KafkaAccessDenied(refusal, principal, doing) : err;
}

/** Thrown when a service's topics are not there: services do not create topics, a provisioning step does. */
export class TopicsMissing extends TillstreamError {
  constructor(readonly topics: string[]) {
    super('KAFKA_TOPICS_MISSING', `topics ${topics.join(', ')} do not exist; provision them with \`npx tillstream kafka provision\` (npm run infra:up does it for the local store)`);
    this.name = 'TopicsMissing';
  }
}

/**
 * Checks that every topic of `specs` (under `prefix`) exists, as the
 * service's own principal sees it. A principal that may not describe one
 * sees it as missing too, so an authorization refusal and a missing topic
 * both end here with a message that says which.
 */
export async function requireTopics(options: { kafka: Kafka; prefix: string; specs: readonly Pick<TopicSpec, 'name'>[]; principal?: string | undefined }): Promise<void> {
  const wanted = options.specs.map((s) => topicName(options.prefix, s));
  const admin = options.kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      // listTopics answers only the topics this principal may describe: ask for them by name to tell "absent" from "not yours".
      await admin.fetchTopicMetadata({ topics: missing }).then(
        () => undefined,
        (err: unknown) => {
          if (kafkaRefusal(err)) throw err;
        },
      );
      throw new TopicsMissing(missing);
    }
  } catch (err) {
    throw asAccessDenied(err, options.principal, `describing topics ${wanted.join(', ')}`);
  } finally {
    await admin.disconnect();
  }
}

/** The principal the infra tool, the CLI and the test helpers provision with (a super user of the broker). */
export const KAFKA_ADMIN_PRINCIPAL = 'admin';

/** Each cluster's service principals (one per service, named after it). */
export const KAFKA_PRINCIPALS = {
  store: ['ingest', 'inventory', 'trends', 'sync'],
  hq: ['hq'],
} as const;

export type KafkaCluster = keyof typeof KAFKA_PRINCIPALS;
export type KafkaPrincipal = (typeof KAFKA_PRINCIPALS)[KafkaCluster][number];

/** The topics each cluster holds. */
export const CLUSTER_TOPICS: Record<KafkaCluster, readonly TopicSettings[]> = { store: storeTopics, hq: hqTopics };

type Operation = 'READ' | 'WRITE' | 'DELETE';

/** One permission: operations on one topic (LITERAL) or on the consumer groups named from a prefix (PREFIXED). */
export interface KafkaGrant {
  resource: 'TOPIC' | 'GROUP';
  pattern: 'LITERAL' | 'PREFIXED';
  name: string;
  operations: readonly Operation[];
}

const byName = (name: string) => storeTopics.find((t) => t.name === name) ?? hqTopics.find((t) => t.name === name)!;
const topic = (prefix: string, name: string, operations: readonly Operation[]): KafkaGrant => ({ resource: 'TOPIC', pattern: 'LITERAL', name: topicName(prefix, byName(name)), operations });
/** A consumer writes the dead letters of what it consumes, and no one else does. */
const reads = (prefix: string, names: readonly string[]): KafkaGrant[] =>
  names.flatMap((name) => [topic(prefix, name, ['READ']), { resource: 'TOPIC' as const, pattern: 'LITERAL' as const, name: deadLetterTopicName(topicName(prefix, byName(name))), operations: ['WRITE'] as const }]);
const groups = (name: string, operations: readonly Operation[] = ['READ']): KafkaGrant => ({ resource: 'GROUP', pattern: 'PREFIXED', name, operations });

/**
 * What each service may do on its cluster, for the topics under `prefix`:
 * the one declaration the infra tool, the CLI, the demo and the tests
 * provision from. READ and WRITE imply DESCRIBE (metadata, offsets).
 */
export function kafkaGrants(principal: KafkaPrincipal, prefix: string): KafkaGrant[] {
  switch (principal) {
    case 'ingest':
      // It writes the POS journal; it reads it back only at start (receipts of a process killed before it recorded them), with a throw-away group.
      return [topic(prefix, 'pos.transactions.v1', ['WRITE', 'READ']), groups(`${prefix}ingest.`, ['READ', 'DELETE'])];
    case 'inventory':
      // It reads the store's demand forecasts for replenishment suggestions.
      return [
        ...reads(prefix, ['pos.transactions.v1', 'forecast.demand.v1']),
        topic(prefix, 'inventory.levels.v1', ['WRITE']),
        topic(prefix, 'inventory.alerts.v1', ['WRITE']),
        // Its replenishment suggestions, for HQ (through sync).
        topic(prefix, 'inventory.replenishment.v1', ['WRITE']),
        groups(`${prefix}inventory`),
      ];
    case 'trends':
      return [...reads(prefix, ['pos.transactions.v1']), topic(prefix, 'sales.aggregates.v1', ['WRITE']), topic(prefix, 'sales.anomalies.v1', ['WRITE']), topic(prefix, 'forecast.demand.v1', ['WRITE']), topic(prefix, 'lossprevention.alerts.v1', ['WRITE']), groups(`${prefix}trends`)];
    case 'sync':
      return [...reads(prefix, ['pos.transactions.v1', 'sales.aggregates.v1', 'inventory.levels.v1', 'inventory.alerts.v1', 'inventory.replenishment.v1', 'lossprevention.alerts.v1']), groups(`${prefix}sync.`)];
    case 'hq':
      // HQ writes what stores upload onto its topics and builds its views from them.
      return [...hqTopics.flatMap((t) => [topic(prefix, t.name, ['WRITE']), ...reads(prefix, [t.name])]), groups(`${prefix}hq-views.`)];
  }
}

function aclEntries(principal: string, grants: readonly KafkaGrant[]) {
  return grants.flatMap((g) =>
    g.operations.map((op) => ({
      resourceType: AclResourceTypes[g.resource],
      resourceName: g.name,
      resourcePatternType: ResourcePatternTypes[g.pattern],
      principal: `User:${principal}`,
      host: '*',
      operation: AclOperationTypes[op],
      permissionType: AclPermissionTypes.ALLOW,
    })),
  );
}

export interface ProvisionOptions {
  /** A client of the admin principal. */
  kafka: Kafka;
  logger: Logger;
  cluster: KafkaCluster;
  prefix?: string;
  /** Topics to create (with their dead-letter topics); default every topic of the cluster. */
  specs?: readonly TopicSettings[];
  /** Principals to grant; default every service principal of the cluster. */
  principals?: readonly KafkaPrincipal[];
  /** Replication factor, min ISR and partitions of the cluster's topics (required: see CLUSTER_PROFILES). */
  placement: ClusterPlacement;
}

/**
 * Creates a cluster's topics under `prefix` and grants each service principal
 * exactly its {@link kafkaGrants}. Idempotent (an ACL granted twice is one ACL).
 */
export async function provisionKafka(options: ProvisionOptions): Promise<void> {
  const prefix = options.prefix ?? '';
  await ensureTopics({ kafka: options.kafka, logger: options.logger, prefix, specs: options.specs ?? CLUSTER_TOPICS[options.cluster], placement: options.placement });
  await grantKafkaAcls({ ...options, prefix });
}

/** Grants each principal its {@link kafkaGrants} under `prefix` (no topics created). */
export async function grantKafkaAcls(options: Omit<ProvisionOptions, 'specs' | 'placement'>): Promise<void> {
  const prefix = options.prefix ?? '';
  const principals = options.principals ?? KAFKA_PRINCIPALS[options.cluster];
  const acl = principals.flatMap((p) => aclEntries(p, kafkaGrants(p, prefix)));
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    await admin.createAcls({ acl });
    await aclsVisible(admin, acl);
  } finally {
    await admin.disconnect();
  }
  options.logger.debug({ cluster: options.cluster, prefix, principals, acls: acl.length }, 'granted Kafka ACLs');
}

/**
 * Waits until the broker's authorizer holds every binding of `acl`:
 * createAcls returns once the controller committed them, and the broker
 * applies the metadata a moment later. A service started in that moment
 * would be refused (and refusals are final), so provisioning ends only when
 * the grants are in force (15 s at most).
 */
async function aclsVisible(admin: Admin, acl: ReturnType<typeof aclEntries>): Promise<void> {
  const deadline = Date.now() + 15_000;
  const key = (e: { resourceType: number; resourceName: string; resourcePatternType: number; principal: string; operation: number }) =>
    `${e.principal}|${e.resourceType}|${e.resourcePatternType}|${e.resourceName}|${e.operation}`;
  const principals = [...new Set(acl.map((e) => e.principal))];
  for (;;) {
    const held = new Set<string>();
    for (const principal of principals) {
      const { resources } = await admin.describeAcls({
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        principal,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      });
      for (const r of resources) for (const a of r.acls) held.add(key({ ...r, principal: a.principal, operation: a.operation }));
    }
    const missing = acl.filter((e) => !held.has(key(e)));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`the broker does not hold ${missing.length} of the ACLs granted after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Removes what {@link grantKafkaAcls} granted under `prefix` (tests clean up after themselves). */
export async function revokeKafkaAcls(options: { kafka: Kafka; cluster: KafkaCluster; prefix: string }): Promise<void> {
  const filters = KAFKA_PRINCIPALS[options.cluster].flatMap((p) =>
    kafkaGrants(p, options.prefix).map((g) => ({
      resourceType: AclResourceTypes[g.resource],
      resourceName: g.name,
      resourcePatternType: ResourcePatternTypes[g.pattern],
      principal: `User:${p}`,
      host: '*',
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    })),
  );
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    await admin.deleteAcls({ filters });
  } finally {
    await admin.disconnect();
  }
}
