import kafkajs, { type Admin, type Kafka, type ITopicConfig } from 'kafkajs';

// kafkajs (CommonJS) exports this enum in a way Node's ES module loader does not see as a named export.
// Exported: describing a topic's configs through a client of this package's (admin().describeConfigs) needs it.
export const { ConfigResourceTypes } = kafkajs;
import { TillstreamError, deadLetterTopicName, posTransactions, topicName, type TopicSettings } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';
import { warnIfUnderReplicated, type ClusterPlacement } from './placement.ts';

/**
 * A dead letter is kept at least as long as the POS journal (a sale
 * dead-lettered on its first day must still be replayable when a month-old
 * backlog is), and as long as its own topic's records when that is longer
 * (HQ's transactions).
 */
export function deadLetterRetentionMs(spec: Pick<TopicSettings, 'retentionMs'>): number {
  return Math.max(posTransactions.retentionMs, spec.retentionMs);
}

/**
 * The broker settings of a spec's topic, as kafkajs' createTopics takes them:
 * what is the topic's own (cleanup, retention, compaction, flush) from the
 * spec, and what is the cluster's (replication factor, min.insync.replicas,
 * the partition count of HQ's topics) from its {@link ClusterPlacement}.
 */
export function topicConfig(prefix: string, spec: TopicSettings, placement: ClusterPlacement): ITopicConfig {
  return {
    topic: topicName(prefix, spec),
    numPartitions: Math.max(spec.partitions, placement.minPartitions ?? 0),
    replicationFactor: placement.replicationFactor,
    configEntries: Object.entries({
      'cleanup.policy': spec.cleanupPolicy,
      'retention.ms': String(spec.retentionMs),
      ...spec.config,
      'min.insync.replicas': String(placement.minInsyncReplicas),
    }).map(([name, value]) => ({ name, value })),
  };
}

/** A dead-letter topic keeps poison records for inspection and replay: see {@link deadLetterRetentionMs}. Replicated like its topic; one partition. */
export function deadLetterTopicConfig(prefix: string, spec: TopicSettings, placement: ClusterPlacement): ITopicConfig {
  return {
    topic: deadLetterTopicName(topicName(prefix, spec)),
    numPartitions: 1,
    replicationFactor: placement.replicationFactor,
    configEntries: [
      { name: 'cleanup.policy', value: 'delete' },
      { name: 'retention.ms', value: String(deadLetterRetentionMs(spec)) },
      { name: 'min.insync.replicas', value: String(placement.minInsyncReplicas) },
    ],
  };
}

export interface EnsureTopicsOptions {
  kafka: Kafka;
  logger: Logger;
  prefix?: string;
  specs: readonly TopicSettings[];
  /** The cluster's replication factor, min ISR and partition count: required, so that no cluster inherits another's silently. */
  placement: ClusterPlacement;
  /** Also create each topic's dead-letter topic; default true. */
  deadLetter?: boolean;
}

/** What {@link reconcileTopics} found and did. */
export interface TopicsReport {
  /** Topics it created. */
  created: string[];
  /** Existing topics whose settings (retention, compaction, min ISR, ...) it brought in line with their spec and placement. */
  configured: string[];
  /** Empty topics it gave more partitions. */
  repartitioned: Array<{ topic: string; from: number; to: number }>;
  /** Partition drift it left alone, and why (an operator decides). */
  partitionDrift: Array<{ topic: string; partitions: number; expected: number; reason: string }>;
  /** Topics with fewer (or more) replicas than the placement's replication factor: reported only. */
  replicationDrift: Array<{ topic: string; replicas: number; expected: number }>;
}

/**
 * Creates every topic of `specs` that does not exist yet (auto-creation is off
 * on Tillstream brokers) and its dead-letter topic. Returns the names it
 * created; see {@link reconcileTopics} for the drift it reports and fixes.
 */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<string[]> {
  return (await reconcileTopics(options)).created;
}

/**
 * Brings a cluster's topics in line with their specs and its placement:
 *
 * - a missing topic is created (partitions, replication factor, settings);
 * - settings drift (retention, compaction, flush, min.insync.replicas) is
 *   fixed with alterConfigs: a release that lengthens a retention, or a
 *   cluster moved to min ISR 2, reaches topics created before it (min ISR
 *   never above the replicas a topic has: that would refuse its writes);
 * - too few partitions are added only to a topic that holds no record:
 *   adding partitions changes which partition a key hashes to, so on a topic
 *   with records a key's new records would land apart from its old ones
 *   (compacted topics would keep two "latest" values, per-key order would
 *   break). Otherwise the drift is refused and reported; more partitions
 *   than wanted are reported too (Kafka cannot remove partitions);
 * - replication-factor drift is reported: moving replicas is a partition
 *   reassignment (kafka-reassign-partitions), an operator's action that
 *   copies data between brokers, never something provisioning does.
 *
 * Fails with KAFKA_TOO_FEW_BROKERS before creating anything when the
 * cluster has fewer brokers than the replication factor.
 */
export async function reconcileTopics(options: EnsureTopicsOptions): Promise<TopicsReport> {
  const prefix = options.prefix ?? '';
  const { placement, logger } = options;
  warnIfUnderReplicated(placement, logger);
  const wanted = options.specs.flatMap((spec) =>
    options.deadLetter === false
      ? [topicConfig(prefix, spec, placement)]
      : [topicConfig(prefix, spec, placement), deadLetterTopicConfig(prefix, spec, placement)],
  );
  const report: TopicsReport = { created: [], configured: [], repartitioned: [], partitionDrift: [], replicationDrift: [] };
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      const { brokers } = await admin.describeCluster();
      if (brokers.length < placement.replicationFactor) {
        throw new TillstreamError(
          'KAFKA_TOO_FEW_BROKERS',
          `the cluster has ${brokers.length} broker(s) and the "${placement.profile}" placement asks for replication factor ${placement.replicationFactor}: ` +
            'start the brokers, or for a one-broker development cluster set KAFKA_REPLICATION_FACTOR=1 explicitly',
        );
      }
      await admin.createTopics({ topics: missing, waitForLeaders: false });
      await waitForLeaders(admin, missing.map((t) => t.topic));
      logger.info({ topics: missing.map((t) => t.topic), placement }, 'created topics');
      report.created = missing.map((t) => t.topic);
    }
    const present = wanted.filter((t) => existing.has(t.topic));
    if (present.length > 0) {
      const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.topic) });
      // A topic with fewer replicas than the placement's min ISR (a cluster grown from one broker, not yet
      // reassigned) keeps a min ISR it can meet: raising it would refuse every write to the topic.
      const replicasOf = new Map(metadata.topics.map((t) => [t.name, Math.min(...t.partitions.map((p) => p.replicas.length))]));
      const attainable = present.map((t) => ({
        ...t,
        configEntries: (t.configEntries ?? []).map((e) =>
          e.name === 'min.insync.replicas' ? { ...e, value: String(Math.min(Number(e.value), replicasOf.get(t.topic) ?? Number(e.value))) } : e,
        ),
      }));
      report.configured = await alignTopicConfigs(admin, attainable, logger);
      const grow: Array<{ topic: string; count: number }> = [];
      for (const topic of metadata.topics) {
        const spec = present.find((t) => t.topic === topic.name)!;
        const replicas = replicasOf.get(topic.name)!;
        if (replicas !== placement.replicationFactor) {
          report.replicationDrift.push({ topic: topic.name, replicas, expected: placement.replicationFactor });
        }
        const partitions = topic.partitions.length;
        const expected = spec.numPartitions ?? partitions;
        if (partitions === expected) continue;
        if (partitions > expected) {
          report.partitionDrift.push({ topic: topic.name, partitions, expected, reason: 'Kafka cannot remove partitions; left as is' });
        } else if (await holdsRecords(admin, topic.name)) {
          report.partitionDrift.push({
            topic: topic.name,
            partitions,
            expected,
            reason: "the topic holds records: more partitions would move keys to other partitions (per-key order, compaction's latest value); refused",
          });
        } else {
          grow.push({ topic: topic.name, count: expected });
          report.repartitioned.push({ topic: topic.name, from: partitions, to: expected });
        }
      }
      if (grow.length > 0) {
        await admin.createPartitions({ topicPartitions: grow, validateOnly: false });
        await waitForLeaders(admin, grow.map((g) => g.topic));
        logger.info({ topics: report.repartitioned }, 'empty topics given the partitions their placement asks for');
      }
      for (const drift of report.partitionDrift) logger.warn(drift, 'topic partition count differs from its spec and placement; left unchanged');
      for (const drift of report.replicationDrift) {
        logger.warn(
          drift,
          "topic replication factor differs from the cluster's placement; left unchanged: reassigning replicas is an operator's action (kafka-reassign-partitions.sh, see docs/deployment.md)",
        );
      }
    }
    return report;
  } finally {
    await admin.disconnect();
  }
}

/** True if any partition of `topic` holds a record now (or ever did and has not been deleted by retention). */
async function holdsRecords(admin: Admin, topic: string): Promise<boolean> {
  return (await admin.fetchTopicOffsets(topic)).some((p) => p.high !== p.low);
}

/**
 * Gives existing topics the settings their spec declares where they differ.
 * kafkajs' alterConfigs replaces a topic's whole dynamic configuration, so
 * the full declared set is sent (Tillstream declares every setting it sets).
 */
async function alignTopicConfigs(admin: Admin, topics: ITopicConfig[], logger: Logger): Promise<string[]> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.topic })),
  });
  const stale = topics.filter((t) => {
    const current = described.resources.find((r) => r.resourceName === t.topic)?.configEntries ?? [];
    return (t.configEntries ?? []).some((want) => current.find((c) => c.configName === want.name)?.configValue !== want.value);
  });
  if (stale.length === 0) return [];
  await admin.alterConfigs({
    validateOnly: false,
    resources: stale.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.topic, configEntries: t.configEntries ?? [] })),
  });
  logger.info({ topics: stale.map((t) => t.topic) }, 'topic settings brought in line with their specs');
  return stale.map((t) => t.topic);
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
