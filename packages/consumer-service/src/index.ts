export * from './env.ts';
export * from './service.ts';
export * from './booking.ts';
export * from './runtime.ts';
export * from './app.ts';
export * from './service-main.ts';
