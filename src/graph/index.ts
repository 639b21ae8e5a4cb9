export * from './build-graph.js';
