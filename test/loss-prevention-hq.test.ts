import { describe, expect, it } from 'vitest';
import { LossPreventionAlerts } from '@tillstream/contracts';
import { bookedOffset, topicEnd } from '@tillstream/consumer-service/testing';
import { SyntheticStore, bearer, waitFor } from '@tillstream/testing';
import { startChain } from './chain.ts';

/**
 * Loss-prevention alerts travel the store's usual way to HQ: trends
 * publishes them through its outbox, sync uploads them (stream
 * "lossprevention", keyed by alertId), HQ writes them to its topic and its
 * view consumer keeps each once; HQ lists them to its admins only.
 */
describe('loss prevention at HQ', () => {
  it("HQ lists exactly the store's alerts, to HQ admins only", async () => {
    const chain = await startChain();
    const store = new SyntheticStore({ storeId: 'S001', terminals: ['T01', 'T02', 'T03'], seed: 18, timeZone: 'UTC', sweetheart: { operatorId: 'OP3', rate: 0.3 } });
    const start = Date.parse('2026-11-20T08:00:00Z');
    const txs = Array.from({ length: 1200 }, (_, i) => store.next(start + i * 30_000).tx);
    for (let i = 0; i < txs.length; i += 500) await chain.trends.publish(txs.slice(i, i + 500));
    // Every alert is found once loss prevention's consumer group booked the whole day (alerts commit with its offset).
    const end = await topicEnd(chain.kafka, chain.trends.topic);
    await waitFor(async () => (await bookedOffset(chain.db, `${chain.trends.groupId}.lossprev`, chain.trends.topic)) === end, { timeoutMs: 60_000, message: 'loss prevention to book the day' });

    const { alerts: storeAlerts } = LossPreventionAlerts.parse(await (await chain.inventory.get('/v1/loss-prevention/alerts?limit=500')).json());
    expect(new Set(storeAlerts.map((a) => a.member))).toEqual(new Set(['OP3']));

    const admin = bearer(chain.hqTokens['hq-admin']);
    const hqAlerts = await waitFor(
      async () => {
        const res = await fetch(`${chain.hq.url}/v1/loss-prevention/alerts?storeId=S001&limit=1000`, { headers: admin });
        const { alerts } = LossPreventionAlerts.parse(await res.json());
        return alerts.length === storeAlerts.length ? alerts : undefined;
      },
      { timeoutMs: 90_000, message: "HQ to hold every one of the store's alerts" },
    );
    expect(hqAlerts.map((a) => a.alertId).sort()).toEqual(storeAlerts.map((a) => a.alertId).sort());
    expect(hqAlerts.find((a) => a.alertId === storeAlerts[0]!.alertId)).toEqual(storeAlerts[0]);

    // Staff data: an HQ viewer (chain views) may not read it.
    expect((await fetch(`${chain.hq.url}/v1/loss-prevention/alerts`, { headers: bearer(chain.hqTokens['hq-viewer']) })).status).toBe(403);
  }, 180_000);
});
