export * from './render-error.js';
export * from './reporters.js';
export * from './progress-reporter.js';
export * from './choose-reporter.js';
export { humanBytes, humanDuration, serializeError, summaryLine, type SerializedError } from './format.js';
