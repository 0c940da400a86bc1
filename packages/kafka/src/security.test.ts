import { describe, expect, it } from 'vitest';
import { KAFKA_PRINCIPALS, kafkaGrants, kafkaSecurityFromEnv, kafkaRefusal } from './security.ts';

describe('kafkaSecurityFromEnv', () => {
  it('refuses a username without a password, and SASL credentials without TLS', () => {
    expect(() => kafkaSecurityFromEnv({ KAFKA_SASL_USERNAME: 'ingest' })).toThrow('KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together');
    expect(() => kafkaSecurityFromEnv({ KAFKA_SASL_USERNAME: 'ingest', KAFKA_SASL_PASSWORD: 'p' })).toThrow('set KAFKA_TLS_CA_FILE');
    expect(kafkaSecurityFromEnv({})).toEqual({});
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
