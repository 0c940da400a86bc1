export { startInventory, type InventoryService } from './service.ts';
export { loadEnv, inventoryEnv, type InventoryEnv } from './env.ts';
