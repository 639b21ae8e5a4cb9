import { StackerError } from '../core/index.js';
import { renderError } from '../report/index.js';
import { mark } from '../core/trace.js';

const HELP = `stacker - build OCI images from stacker.yaml files, without privilege

USAGE:
   stacker [global options] command [command options] [arguments...]

COMMANDS:
   build            build the layers of a stacker.yaml into the OCI layout
   recursive-build  build every stacker.yaml under a directory
   publish          copy built images to a registry or an OCI layout
   inspect          show the images in the OCI layout
   graph            show the build graph and each layer's state (tree, dot, mermaid, json, svg, html)
   why-rebuilt      what would rebuild and why (dry run), or why the last build rebuilt
   history          the builds recorded in the stacker dir
   grab             copy a file out of a built layer: stacker grab <layer>:<path>
   chroot, exec     run a shell in a built layer: stacker chroot [layer] [cmd]
   clean            remove the roots dir, the OCI layout and the stacker dir
   check            check that this machine can build without privilege
   unpriv-setup     (as root) give a user what unprivileged builds need

GLOBAL OPTIONS:
   --work-dir DIR      put .stacker, oci and roots under DIR
   --stacker-dir DIR   cache and index (default .stacker)
   --oci-dir DIR       output OCI layout (default oci)
   --roots-dir DIR     extracted layers and build roots (default roots)
   --debug             debug output and stack traces
   -q, --quiet         only errors
   --json              machine-readable events (NDJSON)
   -h, --help          this help
   -v, --version       print the version

Run \`stacker <command> --help\` for a command's options (see README.md).
`;

const COMMANDS: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  build: () => import('./commands/build.js'),
  'recursive-build': () => import('./commands/build.js').then((m) => ({ run: m.runRecursive })),
  publish: () => import('./commands/publish.js'),
  inspect: () => import('./commands/inspect.js'),
  graph: () => import('./commands/graph.js'),
  'why-rebuilt': () => import('./commands/why-rebuilt.js'),
  history: () => import('./commands/history.js'),
  clean: () => import('./commands/clean.js'),
  check: () => import('./commands/check.js'),
  'unpriv-setup': () => import('./commands/unpriv-setup.js'),
  grab: () => import('./commands/grab.js'),
  chroot: () => import('./commands/chroot.js'),
  exec: () => import('./commands/chroot.js'),
  // Internal: a build working outside the namespace packs an upper dir inside one (engine/outside.ts).
  'ns-pack': () => import('./commands/ns-pack.js'),
};

/** Entry point: returns nothing, sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  mark('main');
  process.once('exit', () => mark('exit'));
  const debug = argv.includes('--debug');
  const cmdIndex = argv.findIndex((a) => !a.startsWith('-') && COMMANDS[a] !== undefined);
  if (cmdIndex < 0) {
    if (argv.includes('--version') || argv.includes('-v')) {
      process.stdout.write('stacker version 0.1.0\n');
      return;
    }
    process.stdout.write(HELP);
    if (argv.some((a) => !a.startsWith('-'))) {
      process.stderr.write(`error[STACKER_E_USAGE]: unknown command ${argv.find((a) => !a.startsWith('-'))}\n`);
      process.exitCode = 1;
    }
    return;
  }
  const rest = [...argv.slice(0, cmdIndex), ...argv.slice(cmdIndex + 1)];
  try {
    if (debug && argv.includes('--quiet')) throw new StackerError('STACKER_E_USAGE', "debug and quiet don't make sense together");
    const sde = process.env.SOURCE_DATE_EPOCH;
    if (sde !== undefined && sde !== '' && !/^-?\d+$/.test(sde)) {
      throw new StackerError('STACKER_E_SOURCE_DATE_EPOCH', `invalid SOURCE_DATE_EPOCH value "${sde}"`, { hint: 'it must be an integer number of seconds since 1970' });
    }
    const mod = await COMMANDS[argv[cmdIndex]!]!();
    process.exitCode = await mod.run(rest);
  } catch (e) {
    process.stderr.write(`${renderError(e, debug)}\n`);
    process.exitCode = e instanceof StackerError ? e.exitCode : 1;
  }
}
