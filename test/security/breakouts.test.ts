/**
 * Hostile layers, after containerd's TestBreakouts table (archive/tar_test.go), umoci's
 * CVE-2021-29136 and the whiteout edge cases of image-spec (PEERS.md §3). Every case extracts a
 * crafted tar into a fresh root beside a host directory of sentinel files, then asserts
 * (1) nothing outside the root changed (content, mode, owner, mtime, link count, xattrs) and
 * (2) the expected outcome: a specific error, or a result contained in the root.
 *
 * Where containerd's cases name `/etc`, these use the sandbox's host directory (an absolute
 * path), so a regression would hit a sentinel instead of the machine's /etc.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { native } from '../../src/oci/layer/native.js';
import { D, extract, F, L, makeTar, S, sandbox, snapshotOutside, type Sandbox, type Spec } from './harness.js';

interface Case {
  name: string;
  tar: (sb: Sandbox) => Spec[];
  /** Expected error code, or undefined for success. */
  error?: string;
  check?: (sb: Sandbox) => void;
}

const inRoot = (sb: Sandbox, p: string): string => join(sb.root, p);
/** Where an absolute host path lands when clamped into the root. */
const clamped = (sb: Sandbox, hostPath: string): string => join(sb.root, hostPath);

function sameFile(a: string, b: string): void {
  const sa = lstatSync(a);
  const sb = lstatSync(b);
  assert.ok(sa.isFile() && sb.isFile(), `${a} and ${b} must be regular files`);
  assert.equal(sa.ino, sb.ino, `${a} and ${b} must be the same file`);
}

function fileHas(p: string, content: string): void {
  assert.ok(lstatSync(p).isFile(), `${p} must be a regular file`);
  assert.equal(readFileSync(p, 'utf8'), content);
}

function isWhiteout(p: string): void {
  const st = lstatSync(p);
  assert.ok(st.isCharacterDevice() && st.rdev === 0, `${p} must be a whiteout (char 0/0)`);
}

const ETC_UNIQUE = `stacker-breakout-${process.pid}-${Date.now()}`;
const UNSAFE = 'STACKER_E_LAYER_UNSAFE';
const BAD_WHITEOUT = 'STACKER_E_LAYER_INVALID_WHITEOUT';
const HARDLINK = 'STACKER_E_LAYER_HARDLINK';

const cases: Case[] = [
  // --- symlinks followed by writes: clamped into the root (containerd semantics) ---
  { name: 'SymlinkAbsolute', tar: (sb) => [D('etc'), S('localetc', sb.host), F('localetc/unique', 'u')],
    check: (sb) => { fileHas(join(clamped(sb, sb.host), 'unique'), 'u'); assert.ok(lstatSync(inRoot(sb, 'localetc')).isSymbolicLink()); } },
  // The literal containerd case: a regression would create a new, uniquely named file in the
  // machine's /etc (removed again by the test), never overwrite one.
  { name: 'SymlinkAbsoluteEtc', tar: () => [D('etc'), S('localetc', '/etc'), F(`localetc/${ETC_UNIQUE}`, 'u')],
    check: (sb) => { fileHas(inRoot(sb, `etc/${ETC_UNIQUE}`), 'u'); assert.ok(!existsSync(`/etc/${ETC_UNIQUE}`)); } },
  { name: 'SymlinkUpAndOut', tar: (sb) => [D('dummy'), S('localetc', `dummy/${sb.up}${sb.host}`), F('localetc/unique', 'u')],
    check: (sb) => fileHas(join(clamped(sb, sb.host), 'unique'), 'u') },
  { name: 'SymlinkMultipleAbsolute', tar: (sb) => [S('l1', sb.host), S('l2', '/l1'), F('l2/passwd', 'pwned')],
    check: (sb) => fileHas(join(clamped(sb, sb.host), 'passwd'), 'pwned') },
  { name: 'SymlinkMultipleRelative', tar: (sb) => [S('l1', `${sb.up}${sb.host}`), D('d'), S('d/l2', '../l1'), F('d/l2/passwd', 'pwned')],
    check: (sb) => fileHas(join(clamped(sb, sb.host), 'passwd'), 'pwned') },
  { name: 'SymlinkEmptyFile', tar: (sb) => [S('localetc', sb.host), F('localetc/passwd', '')],
    check: (sb) => fileHas(join(clamped(sb, sb.host), 'passwd'), '') },
  { name: 'SymlinkParentDirectory', tar: (sb) => [D('etc'), S('..', `${sb.host}/`)], error: UNSAFE },
  { name: 'SymlinkEmptyFilename', tar: (sb) => [S('', sb.host)], error: UNSAFE },
  { name: 'SymlinkOverrideDirectory', tar: (sb) => [D('etc'), D('localetc'), S('localetc', sb.host), F('localetc/passwd', 'pwned')],
    check: (sb) => { assert.ok(lstatSync(inRoot(sb, 'localetc')).isSymbolicLink()); fileHas(join(clamped(sb, sb.host), 'passwd'), 'pwned'); } },
  { name: 'SymlinkOverrideDirectoryRelative', tar: (sb) => [D('etc'), D('localetc'), S('localetc', `${sb.up}${sb.host}`), F('localetc/passwd', 'pwned')],
    check: (sb) => fileHas(join(clamped(sb, sb.host), 'passwd'), 'pwned') },
  { name: 'DirectoryOverrideSymlink', tar: (sb) => [D('etc'), S('localetc', sb.host), D('localetc'), F('localetc/passwd', 'mine')],
    check: (sb) => { assert.ok(lstatSync(inRoot(sb, 'localetc')).isDirectory()); fileHas(inRoot(sb, 'localetc/passwd'), 'mine'); } },
  { name: 'DirectoryOverrideSymlinkAndHardlink', tar: (sb) => [F('etc/passwd', 'in-root'), S('localetc', sb.host), D('localetc'), L('localetc/passwd', 'etc/passwd')],
    check: (sb) => { assert.ok(lstatSync(inRoot(sb, 'localetc')).isDirectory()); sameFile(inRoot(sb, 'localetc/passwd'), inRoot(sb, 'etc/passwd')); } },
  // --- hardlinks: targets resolve inside the root, and must already be in this layer ---
  { name: 'HardlinkRelative', tar: (sb) => [F('etc/passwd', 'in-root'), L('localpasswd', `${sb.up}etc/passwd`)],
    check: (sb) => sameFile(inRoot(sb, 'localpasswd'), inRoot(sb, 'etc/passwd')) },
  { name: 'HardlinkDownAndOut', tar: (sb) => [F('etc/passwd', 'in-root'), D('dummy'), L('localpasswd', `dummy/${sb.up}etc/passwd`)],
    check: (sb) => sameFile(inRoot(sb, 'localpasswd'), inRoot(sb, 'etc/passwd')) },
  { name: 'HardlinkAbsolute', tar: () => [F('etc/passwd', 'in-root'), L('localpasswd', '/etc/passwd')],
    check: (sb) => sameFile(inRoot(sb, 'localpasswd'), inRoot(sb, 'etc/passwd')) },
  { name: 'HardlinkRelativeLong', tar: () => [F('etc/passwd', 'in-root'), L('localpasswd', '../../../../../../../../../../../../../etc/passwd')],
    check: (sb) => sameFile(inRoot(sb, 'localpasswd'), inRoot(sb, 'etc/passwd')) },
  { name: 'HardlinkRelativeUpAndOut', tar: () => [F('etc/passwd', 'in-root'), D('dummy'), L('localpasswd', '/dummy/../../etc/passwd')],
    check: (sb) => sameFile(inRoot(sb, 'localpasswd'), inRoot(sb, 'etc/passwd')) },
  { name: 'HardlinkDirectRelative', tar: () => [F('etc/passwd', 'in-root'), L('localpasswd', 'etc/passwd')],
    check: (sb) => sameFile(inRoot(sb, 'localpasswd'), inRoot(sb, 'etc/passwd')) },
  { name: 'HardlinkDirectAbsoluteHostFile', tar: (sb) => [L('localpasswd', `${sb.host}/passwd`)], error: HARDLINK },
  { name: 'HardlinkRelativeHostFile', tar: (sb) => [L('localpasswd', `${sb.up}${sb.host}/passwd`)], error: HARDLINK },
  { name: 'HardlinkThroughSymlink', tar: (sb) => [S('hostdir', sb.host), L('localpasswd', 'hostdir/passwd')], error: HARDLINK },
  { name: 'HardlinkToDirectory', tar: () => [D('etc'), L('localetc', 'etc')], error: HARDLINK },
  { name: 'HardlinkSymlinkChmod', tar: (sb) => [S(`${sb.host}/also-exists-outside-root`, `${sb.host}/perm400`), { ...L('sketchylink', `${sb.host}/also-exists-outside-root`), mode: 0o777 }],
    check: (sb) => { const p = inRoot(sb, 'sketchylink'); assert.ok(lstatSync(p).isSymbolicLink()); assert.equal(readlinkSync(p), `${sb.host}/perm400`); } },
  // --- entries replacing symlinks replace the link itself; attributes never go through links ---
  { name: 'FileOverrideSymlink', tar: (sb) => [S('passwd', `${sb.host}/passwd`), F('passwd', 'pwned', 0o777)],
    check: (sb) => fileHas(inRoot(sb, 'passwd'), 'pwned') },
  { name: 'DirectoryOverrideSymlinkChmod', tar: (sb) => [S('d', sb.host), D('d', 0o777)],
    check: (sb) => assert.ok(lstatSync(inRoot(sb, 'd')).isDirectory()) },
  { name: 'SymlinkMtimeNotFollowed', tar: (sb) => [{ ...S('s', `${sb.host}/passwd`), mtime: 5 }],
    check: (sb) => assert.equal(lstatSync(inRoot(sb, 's')).mtimeMs, 5000) },
  { name: 'DirectoryWithSymlinkReplaced', tar: (sb) => [D('d'), S('d/host', sb.host), S('d/passwd', `${sb.host}/passwd`), F('d', 'now a file')],
    check: (sb) => fileHas(inRoot(sb, 'd'), 'now a file') },
  { name: 'DeferredDirTimesAfterReplace', tar: (sb) => [D('a'), D('a/b'), { ...D('a/etc'), mtime: 7 }, S('a', sb.host)],
    check: (sb) => assert.ok(lstatSync(inRoot(sb, 'a')).isSymbolicLink()) },
  // --- umoci CVE-2021-29136 and other names for the root ---
  { name: 'CVE-2021-29136 /. symlink', tar: (sb) => [S('/.', sb.host), F('passwd', 'pwned')], error: UNSAFE },
  { name: 'RootSymlinkDot', tar: (sb) => [S('.', sb.host), F('passwd', 'pwned')], error: UNSAFE },
  { name: 'RootFile', tar: () => [F('./', 'x')], error: UNSAFE },
  // --- `..` and absolute entry names are clamped ---
  { name: 'DotDotName', tar: () => [F('../host/passwd', 'pwned')], check: (sb) => fileHas(inRoot(sb, 'host/passwd'), 'pwned') },
  { name: 'DotDotInsideName', tar: () => [F('a/../../../host/passwd', 'pwned')], check: (sb) => fileHas(inRoot(sb, 'host/passwd'), 'pwned') },
  { name: 'AbsoluteName', tar: (sb) => [F(`${sb.host}/passwd`, 'pwned')], check: (sb) => fileHas(join(clamped(sb, sb.host), 'passwd'), 'pwned') },
  // --- whiteouts ---
  { name: 'WhiteoutEmptyName', tar: () => [F('.wh.', '')], error: BAD_WHITEOUT },
  { name: 'WhiteoutEmptyNameInDir', tar: () => [D('etc'), F('etc/.wh.', '')], error: BAD_WHITEOUT },
  { name: 'WhiteoutRoot', tar: () => [F('.wh..', '')], error: BAD_WHITEOUT },
  { name: 'WhiteoutParent', tar: () => [D('etc'), F('etc/.wh..', '')], error: BAD_WHITEOUT },
  { name: 'WhiteoutDotDotDot', tar: () => [F('.wh...', '')], error: BAD_WHITEOUT },
  { name: 'WhiteoutSymlink', tar: (sb) => [S('passwd', `${sb.host}/passwd`), F('.wh.passwd', '')],
    check: (sb) => assert.ok(lstatSync(inRoot(sb, 'passwd')).isSymbolicLink(), 'same-layer entry stays; the target is untouched') },
  { name: 'WhiteoutSymlinkPath', tar: (sb) => [S('localetc', sb.host), F('localetc/.wh.passwd', '')],
    check: (sb) => isWhiteout(join(clamped(sb, sb.host), 'passwd')) },
  { name: 'WhiteoutRelativePath', tar: (sb) => [D('etc'), F(`etc/${sb.up}${sb.host}/.wh.passwd`, '')],
    check: (sb) => isWhiteout(join(clamped(sb, sb.host), 'passwd')) },
  { name: 'WhiteoutThroughRelativeSymlink', tar: (sb) => [S('up', sb.up), F(`up${sb.host}/.wh.passwd`, '')],
    check: (sb) => isWhiteout(join(clamped(sb, sb.host), 'passwd')) },
  { name: 'OpaqueThroughSymlink', tar: (sb) => [S('hostdir', sb.host), F('hostdir/.wh..wh..opq', '')],
    check: (sb) => assert.equal(native().lgetxattr(clamped(sb, sb.host), 'user.overlay.opaque')?.toString(), 'y') },
  // --- metadata the archive must not control ---
  { name: 'OverlayXattrsRefused', tar: () => [{ ...D('d'), pax: { 'SCHILY.xattr.user.overlay.redirect': '/x', 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }],
    check: (sb) => assert.deepEqual(native().llistxattr(inRoot(sb, 'd')), []) },
  { name: 'DeviceNodesSkipped', tar: () => [{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }, { name: 'wh', type: 'character-device', devmajor: 0, devminor: 0 }, { name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }],
    check: (sb) => { for (const n of ['null', 'wh', 'sda']) assert.ok(!existsSync(inRoot(sb, n)), `${n} must not be created`); } },
];

for (const c of cases) {
  test(`breakout: ${c.name}`, async () => {
    const sb = sandbox();
    try {
      const before = snapshotOutside(sb);
      const { error } = await extract(sb, await makeTar(c.tar(sb)));
      assert.deepEqual(snapshotOutside(sb), before, 'nothing outside the root may change');
      if (c.error) {
        assert.ok(error, `expected ${c.error}`);
        assert.equal((error as { code?: string }).code, c.error, String(error));
      } else {
        assert.equal(error, undefined, `unexpected error: ${String((error as Error | undefined)?.stack)}`);
      }
      c.check?.(sb);
    } finally {
      sb.cleanup();
      rmSync(`/etc/${ETC_UNIQUE}`, { force: true });
    }
  });
}
