export * from './names.ts';
export * from './wait.ts';
export * from './env.ts';
export * from './fixtures.ts';
export * from './topic-reader.ts';
export * from './tcp-proxy.ts';
export { startProcess, stopProcess, killProcess, freePort, type ProcessOptions } from '@tillstream/infra';
export * from '@tillstream/simulator';
export * from './traffic.ts';
