export { BuildIndex } from './build-index.js';
export { defaultMigrationsDir, loadMigrations } from './migrations.js';
export type { Migration } from './migrations.js';
export type * from './types.js';
