export * from './problem.ts';
export * from './card-numbers.ts';
export { findCardNumber } from './inspect.ts';
export * from './body.ts';
export * from './metrics.ts';
export * from './health.ts';
export * from './app.ts';
export * from './auth.ts';
export * from './forward.ts';
