export * from './challenge.js';
export * from './client.js';
export * from './credentials.js';
export * from './pull.js';
export * from './push.js';
export * from './session.js';
