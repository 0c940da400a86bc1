import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureCa, issueCertificate, writeKeyPair, type PemFiles } from '@tillstream/certs';
import { KAFKA_ADMIN_PRINCIPAL, KAFKA_PRINCIPALS, type KafkaSecurity } from '@tillstream/kafka';

/**
 * The SCRAM passwords of the local brokers' principals (the admin the infra
 * tool, CLI and test helpers use, and one per service) and the password of
 * the controller listener, generated once per state directory and kept in
 * `kafka-credentials.json` (0600).
 */
export interface LocalKafkaCredentials {
  /** The CA that issued the brokers' certificates: clients trust it. */
  caFile: string;
  /** User name -> SCRAM-SHA-512 password. */
  passwords: Record<string, string>;
  /** The KRaft controller listener's PLAIN password (SCRAM cannot serve it: its credentials live in the metadata the controller serves). */
  controllerPassword: string;
}

export const credentialsFile = (stateDir: string) => join(stateDir, 'kafka-credentials.json');
export const caDir = (stateDir: string) => join(stateDir, 'ca');

const newPassword = () => randomBytes(24).toString('base64url');
const USERS = [KAFKA_ADMIN_PRINCIPAL, ...KAFKA_PRINCIPALS.store, ...KAFKA_PRINCIPALS.hq];

/**
 * The credentials of `stateDir`, created on first use (a user added by a later release gets its
 * password then). Callers that race (the local brokers start side by side) share one creation in
 * this process; across processes the first to create the file wins and the others read it.
 */
export function ensureKafkaCredentials(stateDir: string): Promise<LocalKafkaCredentials> {
  const key = resolve(stateDir);
  let pending = ensuring.get(key);
  if (!pending) {
    pending = ensureKafkaCredentialsOnce(stateDir).finally(() => ensuring.delete(key));
    ensuring.set(key, pending);
  }
  return pending;
}

const ensuring = new Map<string, Promise<LocalKafkaCredentials>>();

async function ensureKafkaCredentialsOnce(stateDir: string): Promise<LocalKafkaCredentials> {
  await mkdir(stateDir, { recursive: true });
  const ca = await ensureCa(caDir(stateDir), 'Tillstream local CA');
  const file = credentialsFile(stateDir);
  const stored = existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as Omit<LocalKafkaCredentials, 'caFile'>) : undefined;
  const passwords = { ...stored?.passwords };
  for (const user of USERS) passwords[user] ??= newPassword();
  const credentials = { passwords, controllerPassword: stored?.controllerPassword ?? newPassword() };
  if (JSON.stringify(credentials) !== JSON.stringify(stored)) {
    try {
      // 'wx' on first creation: another process's passwords, already written, are never replaced.
      await writeFile(file, JSON.stringify(credentials, null, 2), { mode: 0o600, flag: stored ? 'w' : 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return ensureKafkaCredentialsOnce(stateDir);
    }
  }
  return { caFile: ca.certFile, ...credentials };
}

/** The credentials a running infrastructure uses (tests read them synchronously once the global setup made them). */
export function readKafkaCredentials(stateDir: string): LocalKafkaCredentials {
  const file = credentialsFile(stateDir);
  if (!existsSync(file)) throw new Error(`no Kafka credentials in ${file}: run \`npm run infra:up\` with TILLSTREAM_STATE_DIR=${stateDir}`);
  return { caFile: join(caDir(stateDir), 'ca.crt'), ...(JSON.parse(readFileSync(file, 'utf8')) as Omit<LocalKafkaCredentials, 'caFile'>) };
}

/** How `user` connects to the local brokers. */
export function localKafkaSecurity(credentials: LocalKafkaCredentials, user: string): KafkaSecurity {
  const password = credentials.passwords[user];
  if (!password) throw new Error(`no Kafka principal "${user}" in the local credentials`);
  return { ca: readFileSync(credentials.caFile, 'utf8'), sasl: { username: user, password } };
}

/** The env a service reads its Kafka security from (the config package's kafkaSecurityEnv), for `user`. */
export function localKafkaSecurityEnv(credentials: LocalKafkaCredentials, user: string): Record<string, string> {
  const password = credentials.passwords[user];
  if (!password) throw new Error(`no Kafka principal "${user}" in the local credentials`);
  return { KAFKA_TLS_CA_FILE: credentials.caFile, KAFKA_SASL_USERNAME: user, KAFKA_SASL_PASSWORD: password };
}

/** The broker's TLS key and certificate (PEM, for ssl.keystore.type=PEM), issued by the state directory's CA for 127.0.0.1 and localhost. */
export async function ensureBrokerCertificate(stateDir: string, dir: string, name: string): Promise<PemFiles> {
  const files = { certFile: join(dir, 'broker.crt'), keyFile: join(dir, 'broker.key') };
  if (existsSync(files.certFile) && existsSync(files.keyFile)) return files;
  const ca = await ensureCa(caDir(stateDir), 'Tillstream local CA');
  const pair = await issueCertificate(ca, { commonName: `tillstream-kafka-${name}`, usage: 'server-and-client', hosts: ['127.0.0.1', 'localhost'] });
  return writeKeyPair(dir, 'broker', pair);
}
