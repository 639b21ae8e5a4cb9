#!/usr/bin/env node
// The bin stays tiny: a version gate, then the CLI, loaded lazily.
const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  process.stderr.write(`stacker needs Node.js 20 or newer (this is ${process.version})\n`);
  process.exit(1);
}
const { main } = await import('../dist/src/cli/main.js');
await main(process.argv.slice(2));
