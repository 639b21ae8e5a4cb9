/**
 * OCI whiteout names (image-spec layer.md "Whiteouts"): `.wh.<name>` deletes `<name>` from lower
 * layers, `.wh..wh..opq` hides every lower child of its directory. Other `.wh..wh.*` names are
 * AUFS metadata (e.g. `.wh..wh.plnk`) and are skipped, as Docker does. A whiteout whose target
 * would be empty, `.` or `..` is invalid ("SHOULD return an error"; containerd's table agrees).
 */
import { StackerError } from '../../core/errors.js';
import { LayerErrorCode } from './limits.js';

const PREFIX = Buffer.from('.wh.');
const META_PREFIX = Buffer.from('.wh..wh.');
const OPAQUE = Buffer.from('.wh..wh..opq');

export type WhiteoutKind =
  | { kind: 'none' }
  | { kind: 'opaque' }
  | { kind: 'meta' }
  | { kind: 'whiteout'; target: Buffer };

const NONE: WhiteoutKind = { kind: 'none' };

function startsWith(b: Buffer, prefix: Buffer): boolean {
  return b.length >= prefix.length && b.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** Classifies the last component of an entry name. */
export function classifyWhiteout(base: Buffer): WhiteoutKind {
  if (!startsWith(base, PREFIX)) return NONE;
  if (base.equals(OPAQUE)) return { kind: 'opaque' };
  if (startsWith(base, META_PREFIX)) return { kind: 'meta' };
  const target = base.subarray(PREFIX.length);
  const t = target.toString('latin1');
  if (t === '' || t === '.' || t === '..') {
    throw new StackerError(LayerErrorCode.invalidWhiteout, `invalid whiteout entry ${JSON.stringify(base.toString('utf8'))}`, {
      hint: 'a whiteout must name the file it deletes (`.wh.<name>`)',
    });
  }
  return { kind: 'whiteout', target };
}
