export * from './hq-client.ts';
