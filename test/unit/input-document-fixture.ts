import type { InputDocument } from '../../src/engine/input-document.js';

/** A minimal input document of a layer on scratch that runs `true`, with `over` on top. */
export function doc(name: string, over: Partial<InputDocument> = {}): InputDocument {
  return {
    format: 1, name, base: { type: 'scratch' }, parents: [], imports: [], run: 'true',
    config: { environment: {}, labels: {}, volumes: [], cmd: null, entrypoint: null, fullCommand: null, workingDir: null, runtimeUser: null, annotations: {}, generateLabels: [], os: 'linux', arch: 'amd64' },
    buildEnv: {}, buildEnvPassthrough: null, binds: [], overlayDirs: [], buildOnly: false, legacyImport: false, sourceDateEpoch: null,
    output: { layerType: 'tar+gzip', recipe: 'r1' }, ...over,
  };
}
