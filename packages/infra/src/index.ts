export * from './errors.ts';
export * from './broker.ts';
export * from './jars.ts';
export * from './services.ts';
export * from './infra.ts';
export * from './env.ts';
export { isAlive, isPortFree } from './process.ts';
export * from './children.ts';
export * from './kafka-security.ts';
