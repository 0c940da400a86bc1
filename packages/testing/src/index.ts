export * from './names.ts';
export * from './wait.ts';
export * from './env.ts';
export * from './fixtures.ts';
export * from './transactions.ts';
export * from './topic-reader.ts';
export * from './tcp-proxy.ts';
