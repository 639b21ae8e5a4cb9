// Injected into the CommonJS bundle by scripts/bundle.mjs: there, `import.meta.url` is the bundle's URL.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
