import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shlexSplit } from '../../src/config/index.js';

const words = (s: string): string[] => {
  const r = shlexSplit(s);
  if (!r.ok) throw new Error(`unexpected failure: ${r.reason}`);
  return r.words;
};
const reason = (s: string): string => {
  const r = shlexSplit(s);
  if (r.ok) throw new Error(`expected failure for ${JSON.stringify(s)}`);
  return r.reason;
};

describe('shlexSplit (POSIX)', () => {
  it('splits on runs of blanks', () => {
    assert.deepEqual(words('  /bin/sh  -c\t"x"\n\r y '), ['/bin/sh', '-c', 'x', 'y']);
    assert.deepEqual(words(''), []);
    assert.deepEqual(words('   '), []);
  });

  it('keeps single-quoted text literally, backslashes included', () => {
    assert.deepEqual(words(`echo 'a  b\\n $HOME "q"'`), ['echo', 'a  b\\n $HOME "q"']);
  });

  it('in double quotes, a backslash escapes only $ ` " \\ and newline', () => {
    assert.deepEqual(words('"a\\"b" "c\\\\d" "\\$x" "\\`" "\\n" "\\a"'), ['a"b', 'c\\d', '$x', '`', '\\n', '\\a']);
    assert.deepEqual(words('"one\\\ntwo"'), ['onetwo']);
  });

  it('outside quotes, a backslash escapes any character and backslash-newline continues the line', () => {
    assert.deepEqual(words('a\\ b c\\"d \\\\'), ['a b', 'c"d', '\\']);
    assert.deepEqual(words('ab\\\ncd ef'), ['abcd', 'ef']);
  });

  it('joins adjacent quoted and unquoted parts into one word', () => {
    assert.deepEqual(words(`a"b c"d'e f'g`), ['ab cde fg']);
  });

  it('gives empty words for empty quotes', () => {
    assert.deepEqual(words(`'' "" x`), ['', '', 'x']);
    assert.deepEqual(words(`--name=""`), ['--name=']);
  });

  it('treats # and other shell syntax as ordinary characters', () => {
    assert.deepEqual(words('echo # not a comment; ls | wc'), ['echo', '#', 'not', 'a', 'comment;', 'ls', '|', 'wc']);
  });

  it('fails on unterminated quotes and a trailing backslash', () => {
    assert.equal(reason(`echo 'abc`), 'unterminated single quote');
    assert.equal(reason('echo "abc'), 'unterminated double quote');
    assert.equal(reason('echo "abc\\"'), 'unterminated double quote');
    assert.equal(reason('echo abc\\'), 'no character after the final backslash');
  });
});
