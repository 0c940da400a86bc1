import { describe, expect, it } from 'vitest';
import { errorCode } from '@tillstream/contracts';
import { createLogger } from '@tillstream/observability';
import { flagsEnv, infraConfigFromEnv } from './env.ts';
import { hqBrokerSpecs, localPlacement } from './infra.ts';

const logger = createLogger({ name: 'test', level: 'silent' });
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return errorCode(err);
  }
  return undefined;
};

describe('HQ as one broker or a cluster', () => {
  it('reads --hq-brokers and --state-dir as the variables they stand for, and refuses anything else', () => {
    expect(flagsEnv(['--hq-brokers', '3', '--state-dir=/tmp/x'])).toEqual({ HQ_KAFKA_BROKER_COUNT: '3', TILLSTREAM_STATE_DIR: '/tmp/x' });
    expect(codeOf(() => flagsEnv(['--hq-broker', '3']))).toBe('CONFIG_INVALID');
    expect(codeOf(() => flagsEnv(['--hq-brokers']))).toBe('CONFIG_INVALID');
  });

  it('lays out a controller and N brokers, replicating defaults and internal topics min(N, 3) times with min ISR 2', () => {
    const specs = hqBrokerSpecs({ brokers: 3, port: 21_400, controllerPort: 21_401, heapMb: 512, stateDir: '/nonexistent' });
    expect(specs.map((s) => [s.name, s.port, s.node?.role, s.node?.id])).toEqual([
      ['hq-controller', 21_401, 'controller', 100],
      ['hq-1', 21_400, 'broker', 1],
      ['hq-2', 21_402, 'broker', 2],
      ['hq-3', 21_404, 'broker', 3],
    ]);
    expect(new Set(specs.map((s) => s.node?.clusterId)).size).toBe(1);
    expect(specs.every((s) => s.node?.voters === '100@127.0.0.1:21401')).toBe(true);
    expect(specs.every((s) => s.replication?.factor === 3 && s.replication.minInsync === 2)).toBe(true);
    // One broker: the single combined node, as before.
    expect(hqBrokerSpecs({ brokers: 1, port: 9192, controllerPort: 9193, heapMb: 512, stateDir: '/nonexistent' })).toEqual([{ name: 'hq', port: 9192, controllerPort: 9193, heapMb: 512 }]);
    // A controller port among the brokers' ports is refused.
    expect(codeOf(() => hqBrokerSpecs({ brokers: 3, port: 9192, controllerPort: 9194, heapMb: 512, stateDir: '/nonexistent' }))).toBe('CONFIG_INVALID');
  });

  it("places HQ's topics by its broker count: the hq profile on three, an explicit single-broker profile on one", () => {
    expect(localPlacement({ hqBrokers: 3 }, 'hq')).toMatchObject({ profile: 'hq', replicationFactor: 3, minInsyncReplicas: 2, minPartitions: 12 });
    expect(localPlacement({ hqBrokers: 1 }, 'hq')).toMatchObject({ profile: 'single-broker', replicationFactor: 1, minInsyncReplicas: 1 });
    expect(localPlacement({ hqBrokers: 2 }, 'hq')).toMatchObject({ replicationFactor: 2, minInsyncReplicas: 2 });
    expect(localPlacement({ hqBrokers: 3, hqPlacement: { minPartitions: 24 } }, 'hq')).toMatchObject({ minPartitions: 24 });
    expect(localPlacement({ hqBrokers: 3 }, 'store')).toMatchObject({ profile: 'store', replicationFactor: 1 });
    const config = infraConfigFromEnv({ HQ_KAFKA_BROKER_COUNT: '3', TILLSTREAM_STATE_DIR: '/nonexistent' }, logger);
    expect(config.brokers.map((b) => b.name)).toEqual(['store', 'hq-controller', 'hq-1', 'hq-2', 'hq-3']);
  });
});
