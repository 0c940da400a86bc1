export * from './env.ts';
export * from './fragments.ts';
