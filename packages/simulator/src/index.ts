export * from './transactions.ts';
export * from './bakery.ts';
export * from './synthetic.ts';
export * from './terminal-client.ts';
export * from './simulate.ts';
export * from './chain/index.ts';
export * from './demo-seed.ts';
