export { startIngest, type IngestService } from './service.ts';
export { loadEnv, ingestEnv, type IngestEnv } from './env.ts';
export { createApp, type IngestDeps } from './app.ts';
