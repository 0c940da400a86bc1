export * from './errors.ts';
export * from './gtin.ts';
export * from './money.ts';
export * from './pos-transaction.ts';
export * from './envelope.ts';
export * from './topics.ts';
export * from './ingest-api.ts';
