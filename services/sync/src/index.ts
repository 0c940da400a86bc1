export * from './env.ts';
export * from './service.ts';
export { retryDelayMs } from './uploader.ts';
export { createApp, type SyncDeps } from './app.ts';
