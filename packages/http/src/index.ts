export * from './problem.ts';
export * from './card-numbers.ts';
export * from './body.ts';
export * from './metrics.ts';
export * from './health.ts';
