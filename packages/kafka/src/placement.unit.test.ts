import { describe, expect, it } from 'vitest';
import { errorCode, hqTopics, posTransactions } from '@tillstream/contracts';
import { createLogger } from '@tillstream/observability';
import { Writable } from 'node:stream';
import { deadLetterTopicConfig, topicConfig } from './admin.ts';
import { CLUSTER_PROFILES, clusterPlacement, warnIfUnderReplicated } from './placement.ts';

describe('cluster placement', () => {
  it("gives the store one replica and HQ three with two in sync and twelve partitions per topic; single-broker HQ only by name", () => {
    expect(clusterPlacement('store')).toEqual({ profile: 'store', cluster: 'store', replicationFactor: 1, minInsyncReplicas: 1 });
    expect(clusterPlacement('hq')).toEqual({ profile: 'hq', cluster: 'hq', replicationFactor: 3, minInsyncReplicas: 2, minPartitions: 12 });
    expect(clusterPlacement('single-broker')).toMatchObject({ cluster: 'hq', replicationFactor: 1, minInsyncReplicas: 1 });
    // An operator lowering HQ's replication factor lowers min ISR with it, and may raise partitions.
    expect(clusterPlacement('hq', { replicationFactor: 1, minPartitions: 24 })).toMatchObject({ replicationFactor: 1, minInsyncReplicas: 1, minPartitions: 24 });
  });

  it('refuses a min ISR above the replication factor and non-positive counts', () => {
    expect(errorCode((() => { try { clusterPlacement('hq', { minInsyncReplicas: 4 }); } catch (e) { return e; } })())).toBe('CONFIG_INVALID');
    expect(() => clusterPlacement('store', { replicationFactor: 0 })).toThrow(/positive integer/);
  });

  it("places topics by the cluster: the spec's own settings, the cluster's replication, min ISR and partitions", () => {
    const hq = topicConfig('p.', hqTopics[0], CLUSTER_PROFILES.hq);
    expect(hq).toMatchObject({ topic: 'p.hq.transactions.v1', numPartitions: 12, replicationFactor: 3 });
    expect(hq.configEntries).toContainEqual({ name: 'min.insync.replicas', value: '2' });
    expect(hq.configEntries).toContainEqual({ name: 'retention.ms', value: String(hqTopics[0].retentionMs) });
    expect(deadLetterTopicConfig('p.', hqTopics[0], CLUSTER_PROFILES.hq)).toMatchObject({ numPartitions: 1, replicationFactor: 3 });
    const store = topicConfig('', posTransactions, CLUSTER_PROFILES.store);
    expect(store).toMatchObject({ numPartitions: 1, replicationFactor: 1 });
    expect(store.configEntries).toContainEqual({ name: 'flush.messages', value: '1' });
    expect(store.configEntries).toContainEqual({ name: 'min.insync.replicas', value: '1' });
    // No topic spec carries a cluster setting of its own.
    for (const t of [...hqTopics, posTransactions]) expect(Object.keys(t.config ?? {})).not.toContain('min.insync.replicas');
  });

  it('warns loudly when HQ runs on fewer than three replicas, and only then', () => {
    const lines: string[] = [];
    const logger = createLogger({ name: 't', level: 'warn', destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }) });
    expect(warnIfUnderReplicated(CLUSTER_PROFILES.hq, logger)).toBe(false);
    expect(warnIfUnderReplicated(CLUSTER_PROFILES.store, logger)).toBe(false);
    expect(warnIfUnderReplicated(CLUSTER_PROFILES['single-broker'], logger)).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/fewer than 3 replicas/);
  });
});
