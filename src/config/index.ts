/**
 * stacker.yaml loading: text substitution, YAML 1.1 parsing with positions, validation, and the
 * typed `BuildSpec` the graph, fingerprint and engine consume. Errors carry stable codes
 * (`ConfigCode`) and locations; rendering them is `report/`'s job.
 */
export { loadBuildSpec, type LoadOptions, type LoadResult } from './load.js';
export { ConfigCode } from './codes.js';
export { shlexSplit, type ShlexResult } from './shlex.js';
export { hostPlatform, ociArch } from './platform.js';
export { LAYER_DIRECTIVES, FROM_DIRECTIVES, IMAGE_TYPES } from './directives.js';
