export * from './secure-join.js';
export * from './overlay-store.js';
