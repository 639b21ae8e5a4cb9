/**
 * Stable error codes raised while loading stacker.yaml files. The CLI renders them and scripts
 * and end-to-end tests match on them, so a code never changes meaning.
 */
export const ConfigCode = {
  /** `--substitute` entry without `=` (or with an empty key). */
  SubstInvalid: 'STACKER_E_SUBST_INVALID',
  /** `$K`, `${K}` or `${K:...}` found for a provided substitution key K. */
  SubstUnsupported: 'STACKER_E_SUBST_UNSUPPORTED',
  /** `${{X}}` left without a value and without a default. */
  SubstMissing: 'STACKER_E_SUBST_MISSING',
  /** `--substitute-file` unreadable or not a `KEY: VALUE` mapping. */
  SubstFile: 'STACKER_E_SUBST_FILE',
  /** The stacker file (or a prerequisite) does not exist. */
  FileNotFound: 'STACKER_E_FILE_NOT_FOUND',
  /** The stacker file exists but cannot be read (a directory, permissions, ...). */
  FileRead: 'STACKER_E_FILE_READ',
  /** An http(s) stacker file or prerequisite could not be downloaded. */
  Fetch: 'STACKER_E_FETCH',
  /** The YAML itself is malformed. */
  YamlSyntax: 'STACKER_E_YAML_SYNTAX',
  /** The document is not a mapping of layer names. */
  NotMapping: 'STACKER_E_NOT_MAPPING',
  /** A key appears twice in one mapping (other than a layer name). */
  DuplicateKey: 'STACKER_E_DUPLICATE_KEY',
  /** Layer name not a string, empty, or containing ':' or '/'. */
  LayerName: 'STACKER_E_LAYER_NAME',
  /** The same layer name twice, in one file or across prerequisites. */
  DuplicateLayer: 'STACKER_E_DUPLICATE_LAYER',
  /** The `config` section cannot be interpreted. */
  Config: 'STACKER_E_CONFIG',
  /** Files that require each other through `config.prerequisites`. */
  PrereqCycle: 'STACKER_E_PREREQ_CYCLE',
  /** A layer's value is not a mapping of directives. */
  LayerNotMapping: 'STACKER_E_LAYER_NOT_MAPPING',
  /** A key of a layer is not a known directive. */
  UnknownDirective: 'STACKER_E_UNKNOWN_DIRECTIVE',
  /** A key under `from` is not one of type/url/tag/insecure. */
  UnknownFromDirective: 'STACKER_E_UNKNOWN_FROM_DIRECTIVE',
  /** A directive's value has the wrong YAML type. */
  Type: 'STACKER_E_TYPE',
  /** A layer without `from` or without `from.type`. */
  FromMissing: 'STACKER_E_FROM_MISSING',
  /** `from.type` is not docker/oci/tar/built/scratch. */
  FromType: 'STACKER_E_FROM_TYPE',
  /** `from.type: built` without `tag`. */
  FromTag: 'STACKER_E_FROM_TAG',
  /** `from.type` docker/oci/tar without `url`. */
  FromUrl: 'STACKER_E_FROM_URL',
  /** `os:` / `arch:` null or empty. */
  EmptyValue: 'STACKER_E_EMPTY_VALUE',
  /** Malformed `imports` list or entry. */
  ImportsShape: 'STACKER_E_IMPORTS_SHAPE',
  /** An import field with a bad value (relative dest, negative uid, bad mode, ...). */
  ImportField: 'STACKER_E_IMPORT_FIELD',
  /** An import `hash` that is not a sha256 hex string. */
  BadHash: 'STACKER_E_BAD_HASH',
  /** Both `import` and `imports` in one layer. */
  ImportBoth: 'STACKER_E_IMPORT_BOTH',
  /** A malformed `stacker://` import or an unsupported URL scheme. */
  ImportUrl: 'STACKER_E_IMPORT_URL',
  /** A local import path that does not exist. */
  ImportMissing: 'STACKER_E_IMPORT_MISSING',
  /** `--require-hash` and an http(s) import without `hash`. */
  HashRequired: 'STACKER_E_HASH_REQUIRED',
  /** A `binds` entry that cannot be read. */
  Bind: 'STACKER_E_BIND',
  /** An `overlay_dirs` entry without `source`. */
  OverlayDir: 'STACKER_E_OVERLAY_DIR',
  /** A `cmd`/`entrypoint`/`full_command` string that shlex cannot split. */
  Shlex: 'STACKER_E_SHLEX',
  /** A `build_env_passthrough` entry that is not a valid regular expression. */
  BadRegex: 'STACKER_E_BAD_REGEX',
} as const;

export type ConfigCode = (typeof ConfigCode)[keyof typeof ConfigCode];
