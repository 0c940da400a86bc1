export * from './env.ts';
export * from './service.ts';
export * from './booking.ts';
