import { TillstreamError } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';

/**
 * How a cluster places its topics: replication factor, `min.insync.replicas`
 * and the partition count of its topics are properties of the cluster (how
 * many brokers it has, what it must survive), not of a topic. Topic specs
 * (packages/contracts topics.ts) say what is the topic's own: cleanup,
 * retention, compaction, flush; provisioning takes the rest from here.
 */
export interface ClusterPlacement {
  /** The profile it came from, for logs and reports: "store", "hq" or "single-broker". */
  readonly profile: string;
  /** Whose topics: the HQ cluster warns when it runs on fewer than three replicas. */
  readonly cluster: 'store' | 'hq';
  readonly replicationFactor: number;
  /** `min.insync.replicas` of every topic: acks=all waits for this many copies; fewer live replicas refuse writes. */
  readonly minInsyncReplicas: number;
  /** Partitions of every (non dead-letter) topic at least; a spec asking for more keeps its own. */
  readonly minPartitions?: number;
}

/**
 * The profiles. A store runs one broker: its durability is the broker's
 * fsync (pos.transactions' flush.messages) and the store's disks. HQ runs a
 * cluster of at least three brokers: three replicas with two in sync survive
 * the loss of any one broker without losing an acknowledged record and
 * without refusing writes; twelve partitions per hq.* topic let up to twelve
 * view consumers share the load.
 *
 * `single-broker` is HQ on one broker (development, tests, the demo): it
 * must be chosen explicitly, because a production HQ inheriting it would
 * lose acknowledged uploads with its one broker's disk.
 */
export const CLUSTER_PROFILES = {
  store: { profile: 'store', cluster: 'store', replicationFactor: 1, minInsyncReplicas: 1 },
  hq: { profile: 'hq', cluster: 'hq', replicationFactor: 3, minInsyncReplicas: 2, minPartitions: 12 },
  'single-broker': { profile: 'single-broker', cluster: 'hq', replicationFactor: 1, minInsyncReplicas: 1 },
} as const satisfies Record<string, ClusterPlacement>;

export type ClusterProfile = keyof typeof CLUSTER_PROFILES;

/** Overrides of a profile, as an operator sets them (KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS, HQ_TOPIC_PARTITIONS). */
export interface PlacementOverrides {
  replicationFactor?: number;
  minInsyncReplicas?: number;
  minPartitions?: number;
}

/**
 * A profile with an operator's overrides, checked: `min.insync.replicas`
 * cannot exceed the replication factor (every write would be refused).
 */
export function clusterPlacement(profile: ClusterProfile, overrides: PlacementOverrides = {}): ClusterPlacement {
  const base: ClusterPlacement = CLUSTER_PROFILES[profile];
  const replicationFactor = overrides.replicationFactor ?? base.replicationFactor;
  // Lowering the replication factor below the profile's min ISR lowers min ISR with it (RF 1 can only ever have 1 in sync).
  const minInsyncReplicas = overrides.minInsyncReplicas ?? Math.min(base.minInsyncReplicas, replicationFactor);
  const minPartitions = overrides.minPartitions ?? base.minPartitions;
  for (const [name, value] of Object.entries({ replicationFactor, minInsyncReplicas, minPartitions })) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new TillstreamError('CONFIG_INVALID', `${name} must be a positive integer, got ${value}`);
    }
  }
  if (minInsyncReplicas > replicationFactor) {
    throw new TillstreamError(
      'CONFIG_INVALID',
      `min.insync.replicas ${minInsyncReplicas} exceeds the replication factor ${replicationFactor}: every acks=all write would be refused`,
    );
  }
  return { profile: base.profile, cluster: base.cluster, replicationFactor, minInsyncReplicas, ...(minPartitions === undefined ? {} : { minPartitions }) };
}

/**
 * Says loudly when HQ's topics are placed on fewer than three replicas: one
 * broker's loss then stops every upload (RF 1) or risks acknowledged records
 * (RF 2 with min ISR 1). True if it warned.
 */
export function warnIfUnderReplicated(placement: ClusterPlacement, logger: Logger): boolean {
  if (placement.cluster !== 'hq' || placement.replicationFactor >= 3) return false;
  logger.warn(
    { profile: placement.profile, replicationFactor: placement.replicationFactor, minInsyncReplicas: placement.minInsyncReplicas },
    "HQ's topics are placed on fewer than 3 replicas: losing one broker stops HQ's uploads or loses acknowledged records. " +
      'Development and tests only; production HQ runs the "hq" profile (3 brokers, RF 3, min.insync.replicas 2).',
  );
  return true;
}
