import { toMilli } from '@tillstream/contracts';
import { countingTransactions, testConsumerService, type TestConsumerService } from '@tillstream/consumer-service/testing';
import type { TestDatabase, TestKafka, TopicRecord } from '@tillstream/testing';
import { inventoryEnv, type InventoryEnv } from './env.ts';
import { startInventory } from './service.ts';

export type TestInventory = TestConsumerService<InventoryEnv>;

/** The inventory service for one test (see testConsumerService). */
export function testInventory(overrides: Record<string, string> = {}, options: { db?: TestDatabase; kafka?: TestKafka } = {}): Promise<TestInventory> {
  return testConsumerService({ name: 'inventory', schema: inventoryEnv, start: startInventory, overrides, ...options });
}

/**
 * Stock per SKU in thousandths, computed straight from the POS topic's
 * records, independently of the service: of the transactions that count
 * (see countingTransactions), SALE takes and RETURN gives, per line not voided.
 */
export function expectedStock(records: readonly TopicRecord[]): Map<string, number> {
  const stock = new Map<string, number>();
  for (const tx of countingTransactions(records)) {
    for (const line of tx.lines) {
      if (line.voided) continue;
      const delta = (tx.type === 'SALE' ? -1 : 1) * toMilli(line.quantity);
      stock.set(line.sku, (stock.get(line.sku) ?? 0) + delta);
    }
  }
  return stock;
}
