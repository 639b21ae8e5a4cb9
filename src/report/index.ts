export * from './render-error.js';
export * from './reporters.js';
