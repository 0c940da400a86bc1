export * from './redis.ts';
export * from './jobs.ts';
