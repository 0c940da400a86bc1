import { Counter, type Registry } from '@tillstream/observability';

export interface InventoryMetrics {
  transactions: Counter<'outcome'>;
  movements: Counter<'kind'>;
  alerts: Counter<'type'>;
  forecasts: Counter;
}

/** The inventory service's own metrics (HTTP, batch time and outbox backlog come from the shared runtime). */
export function createInventoryMetrics(registry: Registry): InventoryMetrics {
  return {
    transactions: new Counter({ name: 'inventory_pos_transactions_total', help: 'POS transactions consumed, by outcome (booked, duplicate)', labelNames: ['outcome'], registers: [registry] }),
    movements: new Counter({ name: 'inventory_movements_total', help: 'Stock movements booked from the POS topic, by kind', labelNames: ['kind'], registers: [registry] }),
    alerts: new Counter({ name: 'inventory_alerts_total', help: 'Stock alerts raised, by type', labelNames: ['type'], registers: [registry] }),
    forecasts: new Counter({ name: 'inventory_forecasts_consumed_total', help: 'Demand forecast records consumed (forecast.demand.v1), for replenishment', registers: [registry] }),
  };
}
