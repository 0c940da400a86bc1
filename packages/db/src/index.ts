export * from './pool.ts';
export * from './errors.ts';
export * from './migrate.ts';
export * from './offsets.ts';
export * from './admin.ts';
export * from './terminals.ts';
export * from './ingest-journal.ts';
export * from './outbox.ts';
