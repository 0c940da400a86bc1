import { Counter, Gauge, Histogram, type Registry } from '@tillstream/observability';

export interface IngestMetrics {
  transactions: Counter<'outcome'>;
  produceBatchSize: Histogram;
  produceSeconds: Histogram;
  journalSeconds: Histogram<'op'>;
  inFlight: Gauge;
  overloaded: Counter<'scope'>;
  cardNumbers: Counter;
  rejected: Counter<'code'>;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  return {
    transactions: new Counter({ name: 'ingest_transactions_total', help: 'Transactions answered 201 (created) or 200 (replayed)', labelNames: ['outcome'], registers: [registry] }),
    produceBatchSize: new Histogram({
      name: 'ingest_produce_batch_size',
      help: 'Transactions per produce request (group commit)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers: [registry],
    }),
    produceSeconds: new Histogram({
      name: 'ingest_produce_seconds',
      help: 'Time from produce to broker acknowledgement (acks=all, fsync)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: [registry],
    }),
    journalSeconds: new Histogram({
      name: 'ingest_journal_seconds',
      help: 'Idempotency journal round trips per batch, by operation (claim, commit)',
      labelNames: ['op'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    inFlight: new Gauge({ name: 'ingest_in_flight', help: 'Transactions accepted and not yet answered', registers: [registry] }),
    overloaded: new Counter({
      name: 'ingest_overloaded_total',
      help: "Transactions refused because too many were in flight: the store's capacity (scope=store, 503) or one terminal's share of it (scope=terminal, 429)",
      labelNames: ['scope'],
      registers: [registry],
    }),
    cardNumbers: new Counter({ name: 'ingest_card_numbers_rejected_total', help: 'Requests rejected for carrying a payment card number', registers: [registry] }),
    rejected: new Counter({ name: 'ingest_rejected_total', help: 'Transactions rejected, by problem code', labelNames: ['code'], registers: [registry] }),
  };
}
