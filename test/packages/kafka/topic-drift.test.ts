import { describe, expect, it } from 'vitest';
import { errorCode, type TopicSettings } from '@tillstream/contracts';
import { CLUSTER_PROFILES, ConfigResourceTypes, reconcileTopics, type Kafka } from '@tillstream/kafka';
import { testKafka, waitFor } from '@tillstream/testing';

/**
 * Topic drift on the real (one-broker) store cluster: what provisioning fixes
 * (settings, partitions of an empty topic), what it refuses and reports
 * (partitions of a topic holding records), and what it will not attempt
 * (a replication factor the cluster cannot hold).
 */
const spec = (name: string, partitions: number): TopicSettings => ({ name, partitions, cleanupPolicy: 'delete', retentionMs: 86_400_000 });

async function withAdmin<T>(kafka: Kafka, fn: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

const partitions = (kafka: Kafka, topic: string) => withAdmin(kafka, async (a) => (await a.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length);
const config = (kafka: Kafka, topic: string, name: string) =>
  withAdmin(kafka, async (a) => {
    const { resources } = await a.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }] });
    return resources[0]!.configEntries.find((c) => c.configName === name)?.configValue;
  });

describe('reconcileTopics', () => {
  it('adds partitions to an empty topic, refuses them to a topic holding records, and brings settings in line', async () => {
    const env = await testKafka();
    const [empty, used] = [`${env.prefix}drift.empty`, `${env.prefix}drift.used`];
    await withAdmin(env.kafka, (a) =>
      a.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: empty, numPartitions: 1, replicationFactor: 1 },
          // A min ISR the cluster's placement does not ask for: drift to fix.
          { topic: used, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'min.insync.replicas', value: '2' }] },
        ],
      }),
    );
    const producer = env.kafka.producer();
    await producer.connect();
    // acks=1: the topic's min ISR of 2 cannot be met on one broker, and the record is only there to make the topic non-empty.
    await producer.send({ topic: used, acks: 1, messages: [{ key: 'k', value: 'v' }] });
    await producer.disconnect();

    const report = await reconcileTopics({ kafka: env.kafka, logger: env.logger, prefix: env.prefix, specs: [spec('drift.empty', 3), spec('drift.used', 3)], placement: CLUSTER_PROFILES.store, deadLetter: false });

    expect(report.created).toEqual([]);
    expect(report.repartitioned).toEqual([{ topic: empty, from: 1, to: 3 }]);
    expect(report.partitionDrift).toEqual([{ topic: used, partitions: 1, expected: 3, reason: expect.stringContaining('holds records') }]);
    expect(report.replicationDrift).toEqual([]);
    expect(report.configured).toContain(used);
    expect(await partitions(env.kafka, empty)).toBe(3);
    expect(await partitions(env.kafka, used)).toBe(1);
    // A broker answers describeConfigs from the metadata it has applied, which may trail the alteration just committed.
    await waitFor(async () => (await config(env.kafka, used, 'min.insync.replicas')) === '1', { timeoutMs: 30_000, message: 'min.insync.replicas back to the placement\'s 1' });

    // Run again: nothing left to fix, the refusal still reported.
    const again = await reconcileTopics({ kafka: env.kafka, logger: env.logger, prefix: env.prefix, specs: [spec('drift.empty', 3), spec('drift.used', 3)], placement: CLUSTER_PROFILES.store, deadLetter: false });
    expect([again.created, again.repartitioned, again.configured]).toEqual([[], [], []]);
    expect(again.partitionDrift.map((d) => d.topic)).toEqual([used]);
  });

  it("reports a replication factor below the placement's, and keeps the min ISR the topic can meet", async () => {
    // A one-broker cluster's topic, provisioned again as a three-broker HQ (a cluster grown, its topics not yet reassigned).
    const env = await testKafka();
    const topic = `${env.prefix}drift.grown`;
    await withAdmin(env.kafka, (a) => a.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] }));
    const report = await reconcileTopics({ kafka: env.kafka, logger: env.logger, prefix: env.prefix, specs: [spec('drift.grown', 1)], placement: CLUSTER_PROFILES.hq, deadLetter: false });
    expect(report.replicationDrift).toEqual([{ topic, replicas: 1, expected: 3 }]);
    // Empty: it gets HQ's 12 partitions. Its min ISR stays 1: 2 would refuse every write to its one replica.
    expect(report.repartitioned).toEqual([{ topic, from: 1, to: 12 }]);
    // Its retention is brought in line (the alteration read until in force); its min ISR is not raised with it.
    await waitFor(async () => (await config(env.kafka, topic, 'retention.ms')) === '86400000', { timeoutMs: 30_000, message: "the spec's retention in force" });
    expect(await config(env.kafka, topic, 'min.insync.replicas')).toBe('1');
  });

  it("refuses to create HQ's topics with three replicas on a one-broker cluster, and creates nothing", async () => {
    const env = await testKafka();
    const err = await reconcileTopics({ kafka: env.kafka, logger: env.logger, prefix: env.prefix, specs: [spec('drift.hq', 1)], placement: CLUSTER_PROFILES.hq }).catch((e: unknown) => e);
    expect(errorCode(err)).toBe('KAFKA_TOO_FEW_BROKERS');
    expect((err as Error).message).toMatch(/1 broker\(s\).*replication factor 3.*KAFKA_REPLICATION_FACTOR=1/);
    const topics = await withAdmin(env.kafka, (a) => a.listTopics());
    expect(topics.filter((t) => t.startsWith(env.prefix))).toEqual([]);
  });
});
