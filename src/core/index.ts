export * from './result.js';
export * from './digest.js';
export * from './errors.js';
export * from './spec.js';
export * from './events.js';
