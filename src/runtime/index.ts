export * from './userns.js';
export * from './mount.js';
export * from './sandbox.js';
export * from './preflight.js';
export * from './ns-sandbox.js';
