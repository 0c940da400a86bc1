export * from './certs.ts';
export * from './files.ts';
