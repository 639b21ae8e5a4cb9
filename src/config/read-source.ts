import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigCode } from './codes.js';
import { httpFetch } from '../core/http.js';

export type ReadResult =
  | { ok: true; text: string }
  | { ok: false; code: string; message: string; notFound: boolean };

export const isHttpUrl = (s: string): boolean => /^https?:\/\//i.test(s);

/** Reads a local file or downloads an http(s) URL (anything but a 200 is a failure, as stacker). */
export async function readSource(target: string, shown: string): Promise<ReadResult> {
  if (isHttpUrl(target)) {
    try {
      const res = await httpFetch(target, { redirect: 'follow' });
      if (res.status !== 200) {
        return { ok: false, code: ConfigCode.Fetch, message: `couldn't download ${target}: HTTP ${res.status} ${res.statusText}`.trimEnd(), notFound: false };
      }
      return { ok: true, text: await res.text() };
    } catch (e) {
      const reason = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
      return { ok: false, code: ConfigCode.Fetch, message: `couldn't download ${target}: ${reason}`, notFound: false };
    }
  }
  try {
    return { ok: true, text: readFileSync(target, 'utf8') }; // a small file: no threadpool round trip
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: ConfigCode.FileNotFound, message: `${shown} not found`, notFound: true };
    if (code === 'EISDIR') return { ok: false, code: ConfigCode.FileRead, message: `${shown} is a directory, not a stacker file`, notFound: false };
    return { ok: false, code: ConfigCode.FileRead, message: `cannot read ${shown}: ${(e as Error).message}`, notFound: false };
  }
}

/** How a path is shown in messages: relative to the CWD when inside it, absolute otherwise; URLs unchanged. */
export function displayPath(target: string, cwd: string): string {
  if (isHttpUrl(target)) return target;
  const rel = path.relative(cwd, target);
  const outside = rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
  return rel !== '' && !outside ? rel : target;
}
