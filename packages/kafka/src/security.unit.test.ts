import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KAFKA_PRINCIPALS, kafkaGrants, kafkaSecurityFromEnv, kafkaRefusal } from './security.ts';

describe('kafkaSecurityFromEnv', () => {
  it('refuses a username without a password, and SASL credentials without TLS', () => {
    expect(() => kafkaSecurityFromEnv({ KAFKA_SASL_USERNAME: 'ingest' })).toThrow('KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together');
    expect(() => kafkaSecurityFromEnv({ KAFKA_SASL_USERNAME: 'ingest', KAFKA_SASL_PASSWORD: 'p' })).toThrow('set KAFKA_TLS_CA_FILE');
    expect(kafkaSecurityFromEnv({})).toEqual({});
  });

  it('reads the password from KAFKA_SASL_PASSWORD_FILE (a compose secret), over KAFKA_SASL_PASSWORD, and refuses an empty file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
    try {
      const ca = join(dir, 'ca.crt');
      const file = join(dir, 'password');
      writeFileSync(ca, 'PEM');
      writeFileSync(file, 'from-the-secret\n');
      expect(kafkaSecurityFromEnv({ KAFKA_TLS_CA_FILE: ca, KAFKA_SASL_USERNAME: 'ingest', KAFKA_SASL_PASSWORD_FILE: file, KAFKA_SASL_PASSWORD: 'from-env' })).toEqual({
        ca: 'PEM',
        sasl: { username: 'ingest', password: 'from-the-secret' },
      });
      writeFileSync(file, '\n');
      expect(() => kafkaSecurityFromEnv({ KAFKA_TLS_CA_FILE: ca, KAFKA_SASL_USERNAME: 'ingest', KAFKA_SASL_PASSWORD_FILE: file })).toThrow('KAFKA_SASL_PASSWORD_FILE is empty');
      expect(() => kafkaSecurityFromEnv({ KAFKA_TLS_CA_FILE: ca, KAFKA_SASL_USERNAME: 'ingest', KAFKA_SASL_PASSWORD_FILE: join(dir, 'missing') })).toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kafkaGrants', () => {
  const all = (prefix: string) => KAFKA_PRINCIPALS.store.flatMap((principal) => kafkaGrants(principal, prefix).map((g) => ({ principal, ...g })));
  const writers = (prefix: string, topic: string) =>
    all(prefix)
      .filter((g) => g.resource === 'TOPIC' && g.name === topic && g.operations.includes('WRITE'))
      .map((g) => g.principal)
      .sort();

  it('lets ingest alone write the POS topic, and ingest write nothing else', () => {
    expect(writers('s1.', 's1.pos.transactions.v1')).toEqual(['ingest']);
    expect(kafkaGrants('ingest', 's1.').filter((g) => g.operations.includes('WRITE')).map((g) => g.name)).toEqual(['s1.pos.transactions.v1']);
  });

  it("lets a dead-letter topic be written only by its topic's consumers, and sync write nothing but dead letters", () => {
    expect(writers('', 'pos.transactions.v1.dlq')).toEqual(['inventory', 'sync', 'trends']);
    expect(writers('', 'sales.aggregates.v1.dlq')).toEqual(['sync']);
    expect(writers('', 'sales.aggregates.v1')).toEqual(['trends']);
    expect(writers('', 'inventory.levels.v1')).toEqual(['inventory']);
    expect(kafkaGrants('sync', '').filter((g) => g.operations.includes('WRITE')).every((g) => g.name.endsWith('.dlq'))).toBe(true);
  });

  it('names every resource under the prefix, so one store (or test) grants nothing on another', () => {
    for (const principal of [...KAFKA_PRINCIPALS.store, ...KAFKA_PRINCIPALS.hq]) {
      expect(kafkaGrants(principal, 't_1.').every((g) => g.name.startsWith('t_1.'))).toBe(true);
    }
  });
});

describe('kafkaRefusal', () => {
  it("finds the broker's refusal inside kafkajs' wrapping errors, and nothing in a connection error", () => {
    const refusal = { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', message: 'Not authorized to access topics' };
    const wrapped = { name: 'KafkaJSNonRetriableError', message: 'x', cause: { name: 'KafkaJSNumberOfRetriesExceeded', message: 'y', originalError: refusal } };
    expect(kafkaRefusal(wrapped)?.type).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(kafkaRefusal({ name: 'KafkaJSSASLAuthenticationError', message: 'SASL SCRAM SHA512 authentication failed' })?.type).toBe('SASL_AUTHENTICATION_FAILED');
    expect(kafkaRefusal({ name: 'KafkaJSConnectionError', message: 'Connection error: ECONNREFUSED' })).toBeUndefined();
  });
});
