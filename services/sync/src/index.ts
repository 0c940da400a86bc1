export * from './env.ts';
export * from './service.ts';
export { retryDelayMs } from './uploader.ts';
