/**
 * Decoding of tar header blocks (POSIX ustar, GNU and v7) and of PAX extended records, kept as
 * raw bytes: names need not be UTF-8 and xattr values are binary.
 */
import { corrupt } from './limits.js';

/** The numeric fields of a tar header, shared by the reader's and the writer's header types. */
export interface TarNumericFields {
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes that follow (0 for header-only types). */
  size: number;
  /** Seconds since the epoch (fractional when a PAX mtime says so). */
  mtime: number;
  devmajor: number;
  devminor: number;
}

/** One raw header block, before PAX / GNU long-name overrides are applied. */
export interface RawTarHeader extends TarNumericFields {
  name: Buffer;
  linkname: Buffer;
  /** The typeflag byte ('0'...'7', 'x', 'g', 'L', 'K', ..., or NUL for very old tars). */
  typeflag: string;
}

function cstring(buf: Buffer, off: number, len: number): Buffer {
  const field = buf.subarray(off, off + len);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

/** Octal (space/NUL padded) or GNU base-256 (high bit set) numeric field. */
export function parseNumeric(buf: Buffer, off: number, len: number, what: string): number {
  const first = buf[off] as number;
  if (first & 0x80) {
    if (first === 0xff) throw corrupt(`negative ${what}`);
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + (buf[off + i] as number);
    if (!Number.isSafeInteger(v)) throw corrupt(`${what} out of range`);
    return v;
  }
  let i = off;
  const end = off + len;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw corrupt(`bad octal digit in ${what}`);
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function checksumOk(block: Buffer): boolean {
  const want = parseNumeric(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b >= 128 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < 512; i++) if (block[i] !== 0) return false;
  return true;
}

export function decodeHeader(block: Buffer): RawTarHeader {
  if (!checksumOk(block)) throw corrupt('header checksum mismatch (not a tar, or not decompressed?)');
  const magic = block.toString('latin1', 257, 263);
  let name = cstring(block, 0, 100);
  if (magic === 'ustar\u0000' && block[345] !== 0) {
    name = Buffer.concat([cstring(block, 345, 155), Buffer.from('/'), name]);
  }
  const tf = String.fromCharCode(block[156] as number);
  const isDevice = tf === '3' || tf === '4';
  return {
    name,
    linkname: cstring(block, 157, 100),
    typeflag: tf,
    mode: parseNumeric(block, 100, 8, 'mode'),
    uid: parseNumeric(block, 108, 8, 'uid'),
    gid: parseNumeric(block, 116, 8, 'gid'),
    size: parseNumeric(block, 124, 12, 'size'),
    mtime: parseNumeric(block, 136, 12, 'mtime'),
    devmajor: isDevice ? parseNumeric(block, 329, 8, 'devmajor') : 0,
    devminor: isDevice ? parseNumeric(block, 337, 8, 'devminor') : 0,
  };
}

/** PAX records `"%d %s=%s\n"` -> [key, raw value] pairs, in order. */
export function parsePaxRecords(data: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  let off = 0;
  while (off < data.length) {
    if (data[off] === 0) break; // NUL padding after the last record
    const sp = data.indexOf(0x20, off);
    if (sp < 0 || sp - off > 20) throw corrupt('malformed PAX record length');
    const len = Number(data.toString('latin1', off, sp));
    if (!Number.isSafeInteger(len) || len <= sp - off + 1 || off + len > data.length) {
      throw corrupt('malformed PAX record length');
    }
    const rec = data.subarray(sp + 1, off + len);
    if (rec[rec.length - 1] !== 0x0a) throw corrupt('PAX record does not end with a newline');
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw corrupt('PAX record without a key');
    out.push([rec.toString('utf8', 0, eq), rec.subarray(eq + 1, rec.length - 1)]);
    off += len;
  }
  return out;
}
