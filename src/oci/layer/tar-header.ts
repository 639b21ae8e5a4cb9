/**
 * USTAR/PAX header encoding for layer tars (POSIX.1-2001 `pax` format, as Go's archive/tar and
 * GNU tar --format=posix read it).
 *
 * Written here rather than with tar-stream because tar-stream builds PAX records from JS strings:
 * binary xattr values (security.capability) and non-UTF-8 file names would be mangled, and the
 * bytes of the output must be fully under our control for reproducible layers. PAX records are
 * used only when a value does not fit USTAR (long or non-ASCII names, big numbers, xattrs); their
 * header name is the fixed `<dir>/PaxHeaders.0/<base>` (as Go does), never a pid.
 */

import type { TarNumericFields } from './tar-decode.js';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One logical tar entry, as the packer describes it. */
export interface TarEntry {
  /** Path bytes relative to the layer root, no leading `/`, no trailing `/`. */
  name: Buffer;
  type: TarEntryType;
  /** Permission bits incl. setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes that follow (regular files only; 0 otherwise). */
  size: number;
  /** Seconds since the epoch (integer). */
  mtime: number;
  /** Symlink target or hardlink target path. */
  linkname?: Buffer;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, already filtered and sorted by name. */
  xattrs?: ReadonlyArray<readonly [string, Buffer]>;
}

export const BLOCK = 512;

const TYPEFLAG: Record<TarEntryType, number> = {
  file: 0x30, hardlink: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36,
};
const PAX_TYPEFLAG = 0x78; // 'x'

/** Largest value an octal field of `width` bytes holds (width-1 digits + NUL). */
const maxOctal = (width: number): number => 8 ** (width - 1) - 1;

function writeOctal(buf: Buffer, off: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, '0'), off, width - 1, 'latin1');
  buf[off + width - 1] = 0;
}

function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if ((b[i] as number) >= 0x80 || b[i] === 0) return false;
  return true;
}

/** Go's splitUSTARPath: the last '/' within the first 156 bytes, suffix <= 100, prefix <= 155. */
function splitUstar(full: Buffer): [prefix: Buffer, name: Buffer] | undefined {
  let len = full.length;
  if (len > 156) len = 156;
  else if (full[len - 1] === 0x2f) len--;
  const i = full.subarray(0, len).lastIndexOf(0x2f);
  if (i <= 0) return undefined;
  const nlen = full.length - i - 1;
  if (nlen > 100 || nlen === 0 || i > 155) return undefined;
  return [full.subarray(0, i), full.subarray(i + 1)];
}

/** One `"%d %s=%s\n"` record; the length counts its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'latin1'), value, Buffer.from('\n')]);
  let total = body.length + String(body.length).length;
  if (String(total).length + body.length !== total) total = String(total).length + body.length;
  return Buffer.concat([Buffer.from(String(total), 'latin1'), body]);
}

/** Bytes for a USTAR field when the real value lives in a PAX record: ASCII, truncated. */
function asciiFallback(b: Buffer, max: number): Buffer {
  const out = Buffer.from(b.subarray(0, max));
  for (let i = 0; i < out.length; i++) if ((out[i] as number) >= 0x80) out[i] = 0x5f;
  return out;
}

function fullName(e: TarEntry): Buffer {
  return e.type === 'dir' ? Buffer.concat([e.name, Buffer.from('/')]) : e.name;
}

interface Fields {
  prefix?: Buffer;
  name: Buffer;
  linkname?: Buffer;
}

/** Decides which values need PAX records and what goes into the USTAR fields. */
function planFields(e: TarEntry, full: Buffer): { fields: Fields; pax: Buffer[] } {
  const pax: Buffer[] = [];
  const fields: Fields = { name: full };
  if (full.length > 100 || !isAscii(full)) {
    const split = isAscii(full) ? splitUstar(full) : undefined;
    if (split) [fields.prefix, fields.name] = split;
    else {
      pax.push(paxRecord('path', full));
      fields.name = asciiFallback(full, 100);
    }
  }
  if (e.linkname) {
    fields.linkname = e.linkname;
    if (e.linkname.length > 100 || !isAscii(e.linkname)) {
      pax.push(paxRecord('linkpath', e.linkname));
      fields.linkname = asciiFallback(e.linkname, 100);
    }
  }
  if (e.size > maxOctal(12)) pax.push(paxRecord('size', Buffer.from(String(e.size))));
  if (e.uid > maxOctal(8)) pax.push(paxRecord('uid', Buffer.from(String(e.uid))));
  if (e.gid > maxOctal(8)) pax.push(paxRecord('gid', Buffer.from(String(e.gid))));
  if (e.mtime < 0 || e.mtime > maxOctal(12)) pax.push(paxRecord('mtime', Buffer.from(String(e.mtime))));
  for (const [k, v] of e.xattrs ?? []) pax.push(paxRecord(`SCHILY.xattr.${k}`, v));
  return { fields, pax };
}

interface RawHeader extends TarNumericFields {
  fields: Fields;
  typeflag: number;
}

function encodeBlock(h: RawHeader): Buffer {
  const buf = Buffer.alloc(BLOCK);
  h.fields.name.copy(buf, 0, 0, 100);
  writeOctal(buf, 100, 8, h.mode);
  writeOctal(buf, 108, 8, Math.min(h.uid, maxOctal(8)));
  writeOctal(buf, 116, 8, Math.min(h.gid, maxOctal(8)));
  writeOctal(buf, 124, 12, Math.min(h.size, maxOctal(12)));
  writeOctal(buf, 136, 12, Math.max(0, Math.min(h.mtime, maxOctal(12))));
  buf[156] = h.typeflag;
  h.fields.linkname?.copy(buf, 157, 0, 100);
  buf.write('ustar\u000000', 257, 8, 'latin1');
  writeOctal(buf, 329, 8, h.devmajor);
  writeOctal(buf, 337, 8, h.devminor);
  h.fields.prefix?.copy(buf, 345, 0, 155);
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += buf[i] as number;
  buf.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  buf[154] = 0;
  buf[155] = 0x20;
  return buf;
}

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function paxHeaderName(full: Buffer): Buffer {
  const s = asciiFallback(full, full.length).toString('latin1').replace(/\/$/, '');
  const slash = s.lastIndexOf('/');
  const dir = slash < 0 ? '' : s.slice(0, slash + 1);
  return Buffer.from(`${dir}PaxHeaders.0/${s.slice(slash + 1)}`.slice(0, 100), 'latin1');
}

/**
 * The header bytes of one entry: a 512-byte USTAR block, preceded by a PAX extended header
 * (its block plus padded records) when needed. Content and its padding are the caller's.
 */
export function encodeHeader(e: TarEntry): Buffer {
  const full = fullName(e);
  const { fields, pax } = planFields(e, full);
  const main = encodeBlock({
    fields, typeflag: TYPEFLAG[e.type], mode: e.mode & 0o7777, uid: e.uid, gid: e.gid,
    size: e.type === 'file' ? e.size : 0, mtime: e.mtime,
    devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0,
  });
  if (pax.length === 0) return main;
  const data = Buffer.concat(pax);
  const paxBlock = encodeBlock({
    fields: { name: paxHeaderName(full) }, typeflag: PAX_TYPEFLAG, mode: 0o644, uid: 0, gid: 0,
    size: data.length, mtime: 0, devmajor: 0, devminor: 0,
  });
  return Buffer.concat([paxBlock, data, Buffer.alloc(paddingFor(data.length)), main]);
}

/** Two zero blocks end the archive. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);
