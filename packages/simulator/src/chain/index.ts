export * from './profile.ts';
export * from './store-day.ts';
export * from './chain.ts';
export * from './provision.ts';
