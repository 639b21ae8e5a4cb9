/**
 * A push-style streaming tar reader: feed decompressed chunks, get entries and their content via
 * synchronous callbacks. Nothing is buffered beyond one header block and one PAX/long-name record
 * (bounded by `maxMetaBytes`). Follows Go's archive/tar where readers disagree: header-only
 * types (links, dirs, devices, FIFOs) carry no data whatever their size field says, so every
 * tool sees the same entries; sparse files are refused; global PAX headers are ignored.
 */
import { StackerError } from '../../core/errors.js';
import { corrupt, LayerErrorCode, tooManyEntries, type UnpackLimits } from './limits.js';
import { paddingFor } from './tar-header.js';
import { decodeHeader, isZeroBlock, parsePaxRecords, type RawTarHeader } from './tar-decode.js';

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'other';

export interface TarEntryInfo extends RawTarHeader {
  type: EntryType;
  /** From PAX `SCHILY.xattr.*`, in archive order. */
  xattrs: [string, Buffer][];
}

export interface TarHandler {
  entry(e: TarEntryInfo): void;
  data(chunk: Buffer): void;
  endEntry(): void;
}

const TYPES: Record<string, EntryType> = {
  '\u0000': 'file', '0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};
const HEADER_ONLY = new Set<EntryType>(['hardlink', 'symlink', 'char', 'block', 'dir', 'fifo']);
const META = new Set(['x', 'g', 'L', 'K']);

type State = 'header' | 'data' | 'meta' | 'pad' | 'done';

function stripNuls(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

function unsupported(msg: string): StackerError {
  return new StackerError(LayerErrorCode.unsupported, msg, { hint: 'sparse files should not be used in layers (image-spec layer.md)' });
}

export class TarReader {
  entries = 0;
  private state: State = 'header';
  private readonly block = Buffer.alloc(512);
  private blockFill = 0;
  private remaining = 0;
  private pad = 0;
  private meta: { buf: Buffer; fill: number; typeflag: string } | undefined;
  private pax: Map<string, Buffer> | undefined;
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;

  constructor(private readonly handler: TarHandler, private readonly limits: UnpackLimits) {}

  get finished(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && this.state !== 'done') {
      if (this.state === 'header') off = this.fillHeader(chunk, off);
      else if (this.state === 'data') off = this.passData(chunk, off);
      else if (this.state === 'meta') off = this.fillMeta(chunk, off);
      else off = this.skipPad(chunk, off);
    }
  }

  /** Called at the end of input: a stream cut inside an entry is corrupt. */
  end(): void {
    if (this.state === 'header' && this.blockFill === 0) return; // no end marker: accepted, like Go
    if (this.state !== 'done') throw corrupt('unexpected end of archive');
  }

  private fillHeader(chunk: Buffer, off: number): number {
    const n = chunk.copy(this.block, this.blockFill, off, Math.min(chunk.length, off + 512 - this.blockFill));
    this.blockFill += n;
    if (this.blockFill === 512) {
      this.blockFill = 0;
      this.onHeader();
    }
    return off + n;
  }

  private passData(chunk: Buffer, off: number): number {
    const n = Math.min(this.remaining, chunk.length - off);
    this.handler.data(chunk.subarray(off, off + n));
    this.remaining -= n;
    if (this.remaining === 0) {
      this.handler.endEntry();
      this.state = this.pad > 0 ? 'pad' : 'header';
    }
    return off + n;
  }

  private skipPad(chunk: Buffer, off: number): number {
    const n = Math.min(this.pad, chunk.length - off);
    this.pad -= n;
    if (this.pad === 0) this.state = 'header';
    return off + n;
  }

  private fillMeta(chunk: Buffer, off: number): number {
    const m = this.meta as NonNullable<TarReader['meta']>;
    const n = chunk.copy(m.buf, m.fill, off, Math.min(chunk.length, off + m.buf.length - m.fill));
    m.fill += n;
    if (m.fill === m.buf.length) {
      this.meta = undefined;
      this.onMeta(m.typeflag, m.buf);
      this.state = this.pad > 0 ? 'pad' : 'header';
    }
    return off + n;
  }

  private onHeader(): void {
    if (isZeroBlock(this.block)) {
      this.state = 'done'; // end of archive; what follows is padding (still hashed by the caller)
      return;
    }
    const raw = decodeHeader(this.block);
    if (META.has(raw.typeflag)) return this.startMeta(raw);
    if (raw.typeflag === 'S') throw unsupported('GNU sparse file in layer');
    this.emit(raw);
  }

  private startMeta(raw: RawTarHeader): void {
    if (raw.size > this.limits.maxMetaBytes) throw corrupt(`extended header of ${raw.size} bytes (limit ${this.limits.maxMetaBytes})`);
    this.pad = paddingFor(raw.size);
    this.meta = { buf: Buffer.alloc(raw.size), fill: 0, typeflag: raw.typeflag };
    this.state = 'meta';
    if (raw.size === 0) this.fillMeta(Buffer.alloc(0), 0);
  }

  private onMeta(typeflag: string, data: Buffer): void {
    if (typeflag === 'L') this.longName = stripNuls(data);
    else if (typeflag === 'K') this.longLink = stripNuls(data);
    else if (typeflag === 'x') {
      this.pax = new Map(this.pax);
      for (const [k, v] of parsePaxRecords(data)) this.pax.set(k, v);
    }
    // 'g' (global) headers are ignored, as containerd and Go's reader do.
  }

  private paxNumber(key: string, fallback: number): number {
    const v = this.pax?.get(key);
    if (v === undefined) return fallback;
    const n = Number(v.toString('latin1'));
    if (!Number.isFinite(n) || n < 0) throw corrupt(`bad PAX ${key}`);
    return n;
  }

  private emit(raw: RawTarHeader): void {
    if (++this.entries > this.limits.maxEntries) throw tooManyEntries(this.limits.maxEntries);
    const pax = this.pax;
    if (pax && [...pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) throw unsupported('PAX sparse file in layer');
    let type: EntryType = TYPES[raw.typeflag] ?? 'other';
    // Data length from the type as written (Go's archive/tar order), then legacy fix-ups.
    const size = HEADER_ONLY.has(type) ? 0 : this.paxNumber('size', raw.size);
    const name = pax?.get('path') ?? this.longName ?? raw.name;
    if (raw.typeflag === '\u0000' && name[name.length - 1] === 0x2f) type = 'dir'; // pre-POSIX dir
    if (!Number.isSafeInteger(size)) throw corrupt('bad size');
    const xattrs: [string, Buffer][] = [];
    for (const [k, v] of pax ?? []) if (k.startsWith('SCHILY.xattr.')) xattrs.push([k.slice(13), v]);
    const info: TarEntryInfo = {
      name, linkname: pax?.get('linkpath') ?? this.longLink ?? raw.linkname, type, typeflag: raw.typeflag,
      mode: raw.mode, uid: this.paxNumber('uid', raw.uid), gid: this.paxNumber('gid', raw.gid), size,
      mtime: this.paxNumber('mtime', raw.mtime), devmajor: raw.devmajor, devminor: raw.devminor, xattrs,
    };
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    this.handler.entry(info);
    this.remaining = size;
    this.pad = paddingFor(size);
    if (size > 0) this.state = 'data';
    else {
      this.handler.endEntry();
      this.state = 'header';
    }
  }
}
