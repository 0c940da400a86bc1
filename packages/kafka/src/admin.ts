import kafkajs, { type Admin, type Kafka, type ITopicConfig } from 'kafkajs';

// kafkajs (CommonJS) exports this enum in a way Node's ES module loader does not see as a named export.
// Exported: describing a topic's configs through a client of this package's (admin().describeConfigs) needs it.
export const { ConfigResourceTypes } = kafkajs;
import { deadLetterTopicName, posTransactions, topicName, type TopicSettings } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';

/**
 * A dead letter is kept at least as long as the POS journal (a sale
 * dead-lettered on its first day must still be replayable when a month-old
 * backlog is), and as long as its own topic's records when that is longer
 * (HQ's transactions).
 */
export function deadLetterRetentionMs(spec: Pick<TopicSettings, 'retentionMs'>): number {
  return Math.max(posTransactions.retentionMs, spec.retentionMs);
}

/** The broker settings of a spec's topic, as kafkajs' createTopics takes them. */
export function topicConfig(prefix: string, spec: TopicSettings): ITopicConfig {
  return {
    topic: topicName(prefix, spec),
    numPartitions: spec.partitions,
    // One broker per store: replication comes from the store's disks, not from peers.
    replicationFactor: 1,
    configEntries: Object.entries({
      'cleanup.policy': spec.cleanupPolicy,
      'retention.ms': String(spec.retentionMs),
      ...spec.config,
    }).map(([name, value]) => ({ name, value })),
  };
}

/** A dead-letter topic keeps poison records for inspection and replay: see {@link deadLetterRetentionMs}. */
export function deadLetterTopicConfig(prefix: string, spec: TopicSettings): ITopicConfig {
  return {
    topic: deadLetterTopicName(topicName(prefix, spec)),
    numPartitions: 1,
    replicationFactor: 1,
    configEntries: [
      { name: 'cleanup.policy', value: 'delete' },
      { name: 'retention.ms', value: String(deadLetterRetentionMs(spec)) },
    ],
  };
}

export interface EnsureTopicsOptions {
  kafka: Kafka;
  logger: Logger;
  prefix?: string;
  specs: readonly TopicSettings[];
  /** Also create each topic's dead-letter topic; default true. */
  deadLetter?: boolean;
}

/**
 * Creates every topic of `specs` that does not exist yet (auto-creation is off
 * on Tillstream brokers) with its partitions, retention and compaction, and
 * its dead-letter topic. An existing topic whose settings (retention,
 * compaction, flush) differ from its spec gets the spec's (a release that
 * lengthens a retention reaches topics created before it); its partition
 * count is left alone but reported when it differs, because per-key order
 * depends on it and must not be changed silently.
 * Returns the names it created.
 */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<string[]> {
  const prefix = options.prefix ?? '';
  const wanted = options.specs.flatMap((spec) =>
    options.deadLetter === false ? [topicConfig(prefix, spec)] : [topicConfig(prefix, spec), deadLetterTopicConfig(prefix, spec)],
  );
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: false });
      await waitForLeaders(admin, missing.map((t) => t.topic));
      options.logger.info({ topics: missing.map((t) => t.topic) }, 'created topics');
    }
    const present = wanted.filter((t) => existing.has(t.topic));
    if (present.length > 0) {
      await alignTopicConfigs(admin, present, options.logger);
      const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.topic) });
      for (const topic of metadata.topics) {
        const spec = present.find((t) => t.topic === topic.name);
        if (spec?.numPartitions && topic.partitions.length !== spec.numPartitions) {
          options.logger.warn(
            { topic: topic.name, partitions: topic.partitions.length, expected: spec.numPartitions },
            'topic partition count differs from its spec; left unchanged',
          );
        }
      }
    }
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Gives existing topics the settings their spec declares where they differ.
 * kafkajs' alterConfigs replaces a topic's whole dynamic configuration, so
 * the full declared set is sent (Tillstream declares every setting it sets).
 */
async function alignTopicConfigs(admin: Admin, topics: ITopicConfig[], logger: Logger): Promise<void> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.topic })),
  });
  const stale = topics.filter((t) => {
    const current = described.resources.find((r) => r.resourceName === t.topic)?.configEntries ?? [];
    return (t.configEntries ?? []).some((want) => current.find((c) => c.configName === want.name)?.configValue !== want.value);
  });
  if (stale.length === 0) return;
  await admin.alterConfigs({
    validateOnly: false,
    resources: stale.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.topic, configEntries: t.configEntries ?? [] })),
  });
  logger.info({ topics: stale.map((t) => t.topic) }, 'topic settings brought in line with their specs');
}

/**
 * Waits until every partition of `topics` has a leader. kafkajs' own
 * waitForLeaders gives up with UNKNOWN_TOPIC_OR_PARTITION when the metadata
 * of a just-created topic has not reached the broker's cache yet (seen on a
 * freshly started broker), so this retries that too, for up to 15 s.
 */
async function waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last: unknown;
  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      if (metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      last = err; // UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE while the metadata propagates
    }
    if (Date.now() > deadline) {
      throw new Error(`topics ${topics.join(', ')} have no leader after 15 s${last ? `: ${(last as Error).message}` : ''}`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface BrokerInfo {
  clusterId: string;
  brokers: number;
  controller: number | null;
}

/**
 * Asks the cluster for its metadata: the answer proves a broker is up and
 * serving requests (an open port alone does not).
 */
export async function describeCluster(kafka: Kafka): Promise<BrokerInfo> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    return { clusterId: cluster.clusterId, brokers: cluster.brokers.length, controller: cluster.controller };
  } finally {
    await admin.disconnect();
  }
}

/** Deletes topics; tests use it to clean up after themselves. Missing topics are ignored. */
export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

export interface PartitionOffsets {
  partition: number;
  /** The first offset still held. */
  low: string;
  /** The next offset to be written (the end). */
  high: string;
}

/**
 * Low and high offsets of every partition of a topic. A topic created a
 * moment ago answers NOT_LEADER / LEADER_NOT_AVAILABLE / UNKNOWN_TOPIC while
 * its leadership propagates (seen in CI right after creation), so retriable
 * errors are retried for up to 15 s. `missing: 'empty'` answers [] for a
 * topic that does not exist (a dead-letter topic nothing was written to).
 */
export async function topicOffsets(kafka: Kafka, topic: string, options: { missing?: 'empty' | 'throw' } = {}): Promise<PartitionOffsets[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (options.missing === 'empty' && !(await admin.listTopics()).includes(topic)) return [];
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high }));
      } catch (err) {
        if ((err as { retriable?: boolean }).retriable !== true || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Records a topic holds now (high - low over its partitions). */
export async function topicRecordCount(kafka: Kafka, topic: string, options: { missing?: 'empty' | 'throw' } = {}): Promise<number> {
  return (await topicOffsets(kafka, topic, options)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}
