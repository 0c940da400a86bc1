import { afterEach, describe, expect, it } from 'vitest';
import { hqInventoryLevels, hqSalesAggregates, salesAggregates, topicName } from '@tillstream/contracts';
import { TEST_PLACEMENT, testEnv, testKafka, waitFor } from '@tillstream/testing';
import { ConfigResourceTypes, ensureTopics } from '@tillstream/kafka';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

/** docs/hq-storage.md "Kafka topics": a view's topic is compacted, and a topic of ever-new keys (sales windows) is also deleted by age. */
describe('retention of the compacted view topics', () => {
  it('sales aggregate topics (store and HQ) keep the latest per key and delete windows older than 35 days; stock levels stay compacted only', async () => {
    for (const [brokers, placement, specs] of [
      [testEnv.KAFKA_BROKERS, TEST_PLACEMENT.store, [salesAggregates]],
      [testEnv.HQ_KAFKA_BROKERS, TEST_PLACEMENT.hq, [hqSalesAggregates, hqInventoryLevels]],
    ] as const) {
      const env = await testKafka({ brokers, specs: [] });
      const admin = env.kafka.admin();
      await admin.connect();
      stops.push(() => admin.disconnect());
      if (specs[0] === salesAggregates) {
        // A store's topic as releases before this one created it (compacted, kept forever): ensureTopics brings it in line.
        const old = [{ name: 'cleanup.policy', value: 'compact' }, { name: 'retention.ms', value: '-1' }];
        await admin.createTopics({ topics: [{ topic: topicName(env.prefix, salesAggregates), numPartitions: 1, replicationFactor: 1, configEntries: old }], waitForLeaders: true });
      }
      await ensureTopics({ placement, kafka: env.kafka, logger: env.logger, prefix: env.prefix, specs, deadLetter: false });
      const settings = async (spec: (typeof specs)[number]) => {
        const { resources } = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topicName(env.prefix, spec), configNames: ['cleanup.policy', 'retention.ms'] }],
        });
        return Object.fromEntries(resources[0]!.configEntries.map((c) => [c.configName, c.configValue]));
      };
      for (const spec of specs) {
        const want = spec === hqInventoryLevels ? { 'cleanup.policy': 'compact', 'retention.ms': '-1' } : { 'cleanup.policy': 'compact,delete', 'retention.ms': String(35 * 86_400_000) };
        await waitFor(async () => JSON.stringify(await settings(spec)) === JSON.stringify(want), { timeoutMs: 30_000, message: `${spec.name} settings` });
        expect(await settings(spec)).toEqual(want);
      }
      // A second run creates nothing.
      expect(await ensureTopics({ placement, kafka: env.kafka, logger: env.logger, prefix: env.prefix, specs, deadLetter: false })).toEqual([]);
    }
  }, 90_000);
});
