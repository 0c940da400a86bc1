export * from './client.ts';
export * from './headers.ts';
export * from './producer.ts';
export * from './consumer.ts';
export * from './admin.ts';
export * from './outbox.ts';
export * from './reader.ts';
export * from './security.ts';
