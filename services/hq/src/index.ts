export * from './env.ts';
export * from './service.ts';
export { createApp, type HqDeps, type HqConfig } from './app.ts';
