export { startInventory, type InventoryService } from './service.ts';
export { loadEnv, inventoryEnv, type InventoryEnv } from './env.ts';
export { createApp, type InventoryDeps } from './app.ts';
