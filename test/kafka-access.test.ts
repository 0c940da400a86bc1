import { describe, expect, it, onTestFinished } from 'vitest';
import { inventoryLevels, posTransactions, salesAggregates, storeTopics, topicName } from '@tillstream/contracts';
import { startIngest, ingestEnv } from '@tillstream/ingest';
import { testInventory } from '@tillstream/inventory/testing';
import { createKafkaClient, grantKafkaAcls, kafkaRefusal, revokeKafkaAcls, topicRecordCount, type Kafka, type KafkaSecurity } from '@tillstream/kafka';
import { localKafkaSecurity } from '@tillstream/infra';
import { issueTerminalToken } from '@tillstream/db';
import { bearer, kafkaServiceEnv, makeTransaction, testDatabase, testEnv, testKafka, testKafkaCredentials, testLogger, testTlsEnv, testTokens, waitFor } from '@tillstream/testing';

/**
 * The local brokers are secured as a store's are (SASL_SSL, SCRAM-SHA-512,
 * StandardAuthorizer, no ACL = no access): who may write sales is decided by
 * the broker, not by whoever reaches its port.
 */
function client(security?: KafkaSecurity): Kafka {
  return createKafkaClient({
    brokers: testEnv.KAFKA_BROKERS,
    clientId: 'access-test',
    logger: testLogger('access'),
    retries: 0,
    connectionTimeoutMs: 3000,
    requestTimeoutMs: 5000,
    ...(security ? { security } : {}),
  });
}

/** Sends one record with a plain kafkajs producer (no schema: the broker's answer is what is tested); the error, or undefined. */
async function produce(kafka: Kafka, topic: string): Promise<unknown> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: '{"forged":true}' }] });
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

const as = (principal: string): KafkaSecurity => localKafkaSecurity(testKafkaCredentials(), principal);

describe('Kafka authentication', () => {
  it('refuses a producer without credentials (plaintext, or TLS without SASL) and one with a wrong password, and nothing reaches the topic', async () => {
    const kafka = await testKafka({ specs: storeTopics });
    const topic = topicName(kafka.prefix, posTransactions);
    const { ca } = as('ingest');

    expect(await produce(client(), topic)).toBeInstanceOf(Error);
    expect(await produce(client({ ...(ca ? { ca } : {}) }), topic)).toBeInstanceOf(Error);
    const wrong = await produce(client({ ...(ca ? { ca } : {}), sasl: { username: 'ingest', password: 'not-the-password' } }), topic);
    expect(kafkaRefusal(wrong)?.type).toBe('SASL_AUTHENTICATION_FAILED');

    expect(await topicRecordCount(kafka.kafka, topic)).toBe(0);
  });
});

describe('Kafka ACLs per service principal', () => {
  it('lets ingest write the POS topic and nothing else, and no other service write sales', async () => {
    const kafka = await testKafka({ specs: storeTopics });
    const pos = topicName(kafka.prefix, posTransactions);

    expect(await produce(client(as('ingest')), pos)).toBeUndefined();
    expect(kafkaRefusal(await produce(client(as('ingest')), topicName(kafka.prefix, inventoryLevels)))?.type).toBe('TOPIC_AUTHORIZATION_FAILED');
    for (const principal of ['inventory', 'trends', 'sync']) {
      expect(kafkaRefusal(await produce(client(as(principal)), pos))?.type, principal).toBe('TOPIC_AUTHORIZATION_FAILED');
    }
    // Sync reads what it uploads and writes none of it.
    expect(kafkaRefusal(await produce(client(as('sync')), topicName(kafka.prefix, salesAggregates)))?.type).toBe('TOPIC_AUTHORIZATION_FAILED');
    // The grants follow the prefix: another store's (another test's) topics are not ingest's.
    const other = await testKafka({ specs: [posTransactions] });
    const foreign = topicName(other.prefix, posTransactions);
    expect(kafkaRefusal(await produce(client(as('trends')), foreign))?.type).toBe('TOPIC_AUTHORIZATION_FAILED');

    expect(await topicRecordCount(kafka.kafka, pos)).toBe(1);
  });

  it('a consumer service running as a principal without its ACLs says so on /readyz at once, and in its log once its grace for ACLs still propagating is over', async () => {
    const credentials = testKafkaCredentials();
    // Inventory started with trends' credentials: trends may read the POS topic but not inventory's group or topics.
    const inv = await testInventory({ KAFKA_SASL_USERNAME: 'trends', KAFKA_SASL_PASSWORD: credentials.passwords.trends! });
    let body = '';
    await waitFor(
      async () => {
        const res = await inv.get('/readyz');
        body = await res.text();
        return res.status === 503 && body.includes('refused principal');
      },
      { timeoutMs: 30_000, message: 'inventory /readyz to report the refusal' },
    );
    expect(body).toContain('TOPIC_AUTHORIZATION_FAILED');
    expect(body).toContain('refused principal \\"trends\\"');
    // One warning when first refused (ACLs provisioned a moment ago may still be on their way to a broker), one error when the
    // grace is over, and no attempt after it: the error is the last word on the refusal.
    const refusalLines = () => inv.logs.filter((line) => line.includes('refused principal'));
    await waitFor(() => refusalLines().some((line) => line.includes('"level":50')), { timeoutMs: 60_000, message: 'the refusal logged as an error once the grace is over' });
    expect(refusalLines().filter((line) => line.includes('"level":50'))).toHaveLength(1);
    expect(refusalLines().filter((line) => line.includes('"level":40') && line.includes('trying again'))).toHaveLength(1);
    expect(refusalLines().at(-1)).toContain('"level":50');
    expect(inv.logs.some((line) => line.includes('retrying'))).toBe(false);
    expect((await inv.get('/readyz')).status).toBe(503);
  });

  it('a service refused while its ACLs are still on their way to the broker starts consuming once they arrive, within its grace', async () => {
    // The prefix's topics exist, its ACLs not yet (as right after provisioning, before every broker has them).
    const kafka = await testKafka({ specs: storeTopics });
    await revokeKafkaAcls({ kafka: kafka.kafka, cluster: 'store', prefix: kafka.prefix });
    const inv = await testInventory({}, { kafka });
    await waitFor(() => inv.logs.some((line) => line.includes('refused principal') && line.includes('trying again')), { timeoutMs: 30_000, message: 'inventory refused' });
    await grantKafkaAcls({ kafka: kafka.kafka, logger: kafka.logger, cluster: 'store', prefix: kafka.prefix });
    await waitFor(async () => (await inv.get('/readyz')).status === 200, { timeoutMs: 30_000, message: 'inventory ready once its ACLs arrived' });
    expect(inv.logs.some((line) => line.includes('"level":50') && line.includes('refused principal'))).toBe(false);
    expect(inv.logs.some((line) => line.includes('the broker accepts the principal now'))).toBe(true);
  });

  it('ingest running as a principal that may not write the POS topic answers 503 to a sale and says why on /readyz', async () => {
    const kafka = await testKafka({ specs: storeTopics });
    const db = await testDatabase({ target: 'store' });
    const token = await issueTerminalToken(db.pool, { storeId: 'S001', terminalId: 'T01' });
    // Inventory's principal may read the POS topic (so ingest starts) but not write it.
    const ingest = await startIngest(
      ingestEnv.parse({ ...testTlsEnv(), STORE_ID: 'S001', TOPIC_PREFIX: kafka.prefix, ...kafkaServiceEnv('inventory'), DATABASE_URL: db.urlFor('ingest'), PORT: '0' }),
      { logger: testLogger('ingest') },
    );
    onTestFinished(() => ingest.stop());
    const sale = await fetch(`${ingest.url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(makeTransaction([{ sku: 'SKU-1' }])),
    });
    expect(sale.status).toBe(503);
    const viewer = (await testTokens(db.pool, 'store'))['store-viewer'];
    const ready = await fetch(`${ingest.url}/readyz`, { headers: bearer(viewer) });
    const body = await ready.text();
    expect(ready.status).toBe(503);
    expect(body).toContain('refused principal \\"inventory\\"');
    expect(body).toContain('TOPIC_AUTHORIZATION_FAILED');
    expect(await topicRecordCount(kafka.kafka, topicName(kafka.prefix, posTransactions))).toBe(0);
  });
});
