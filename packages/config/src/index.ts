export * from './env.ts';
export * from './fragments.ts';
export * from './service-main.ts';
