/**
 * POSIX shell-style word splitting, for `cmd`/`entrypoint`/`full_command` given as a string
 * (stacker splits those with a POSIX-mode shlex).
 *
 * Rules (those of a POSIX shell, without expansions): blanks (space, tab, newline, CR) separate
 * words; `'...'` is literal; inside `"..."` a backslash only escapes `$`, `` ` ``, `"`, `\` and
 * newline (elsewhere it stays); outside quotes a backslash escapes any character; a
 * backslash-newline is a line continuation and disappears; adjacent quoted and unquoted parts join
 * into one word; `""` alone is an empty word. `#` is not a comment (as Python's `shlex.split`).
 */

export type ShlexResult = { ok: true; words: string[] } | { ok: false; reason: string };

const BLANK = new Set([' ', '\t', '\n', '\r']);
const DQUOTE_ESCAPABLE = new Set(['$', '`', '"', '\\', '\n']);

export function shlexSplit(input: string): ShlexResult {
  const words: string[] = [];
  let word = '';
  // A word exists once any part of it (even an empty quoted string) has been seen.
  let inWord = false;
  let i = 0;
  const n = input.length;
  while (i < n) {
    const c = input[i] as string;
    if (BLANK.has(c)) {
      if (inWord) {
        words.push(word);
        word = '';
        inWord = false;
      }
      i++;
    } else if (c === '\\') {
      if (i + 1 >= n) return { ok: false, reason: 'no character after the final backslash' };
      const next = input[i + 1] as string;
      if (next !== '\n') {
        word += next;
        inWord = true;
      }
      i += 2;
    } else if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end === -1) return { ok: false, reason: 'unterminated single quote' };
      word += input.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      let closed = false;
      while (i < n) {
        const d = input[i] as string;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n && DQUOTE_ESCAPABLE.has(input[i + 1] as string)) {
          const e = input[i + 1] as string;
          if (e !== '\n') word += e;
          i += 2;
          continue;
        }
        word += d;
        i++;
      }
      if (!closed) return { ok: false, reason: 'unterminated double quote' };
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return { ok: true, words };
}
