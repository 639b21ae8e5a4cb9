import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILTINS, errorsOf, failures, project, specOf } from '../fixtures/config/helpers.js';

const BASE = 'l:\n  from: {type: scratch}\n';
/** The substituted text of a one-layer file whose `run` is `line`. */
async function substituted(line: string, extra: Parameters<typeof specOf>[2] = {}, files: Record<string, string> = {}): Promise<string> {
  const r = await specOf(`${BASE}  run: ${line}\n`, files, extra);
  return r.spec.layers.get('l')!.run[0]!;
}

describe('substitution ${{VAR}} / ${{VAR:default}}', () => {
  it('replaces --substitute values, in order, and a value may be expanded by a later one', async () => {
    assert.equal(await substituted('"${{A}} ${{B}}"', { substitutions: ['A=[${{B}}]', 'B=b,c=d'] }), '[b,c=d] b,c=d');
  });

  it('uses the default only when no value is given; defaults may be empty or contain ":"', async () => {
    assert.equal(await substituted('"${{A:x}} ${{B:http://h:1/p}} [${{C:}}]"', { substitutions: ['A=given'] }), 'given http://h:1/p []');
  });

  it('takes keys from --substitute-file after the flags, a flag winning over the file', async () => {
    const files = { 'subs.yaml': 'A: from-file\nB: 0755\nC:\n' };
    assert.equal(
      await substituted('"${{A}} ${{B}} [${{C}}]"', { substitutions: ['A=from-flag'], substituteFile: 'subs.yaml' }, files),
      'from-flag 0755 []',
    );
  });

  it('provides the built-ins last; a flag can override them', async () => {
    assert.equal(await substituted('"${{STACKER_ROOTFS_DIR}} ${{STACKER_OCI_DIR}}"'), '/w/roots /w/oci');
    assert.equal(await substituted('"${{STACKER_OCI_DIR}}"', { substitutions: ['STACKER_OCI_DIR=/mine'] }), '/mine');
  });

  it('keeps shell variables that are not provided keys', async () => {
    assert.equal(await substituted('"$HOME ${PATH} $AB"', { substitutions: ['A=1'] }), '$HOME ${PATH} $AB');
  });

  it('stores the substituted text for the annotation', async () => {
    const r = await specOf(`${BASE}  run: echo \${{A:z}}\n`);
    assert.equal(r.spec.files[0]!.substitutedText, `${BASE}  run: echo z\n`);
  });

  it('reports an entry without "=" (and an empty key) as invalid', async () => {
    const lines = await errorsOf(BASE, {}, { substitutions: ['NOEQUALS', '=x'] });
    assert.deepEqual(lines, ['STACKER_E_SUBST_INVALID invalid substition NOEQUALS', 'STACKER_E_SUBST_INVALID invalid substition =x']);
  });

  it('reports every placeholder left without a value, with its location', async () => {
    const lines = await errorsOf(`${BASE}  run:\n    - echo \${{MISSING}}\n    - echo \${{ALSO}} \${{OK:1}}\n`);
    assert.deepEqual(lines, [
      'STACKER_E_SUBST_MISSING stacker.yaml:4:12 no value for substitution MISSING',
      'STACKER_E_SUBST_MISSING stacker.yaml:5:12 no value for substitution ALSO',
    ]);
  });

  it('gives the missing-value error a hint and a span', async () => {
    const dir = await project({ 'stacker.yaml': `${BASE}  run: echo \${{MISSING}}\n` });
    const { errors } = await failures(dir);
    assert.equal(errors[0]!.location?.length, '${{MISSING}}'.length);
    assert.equal(errors[0]!.location?.sourceLine, '  run: echo ${{MISSING}}');
    assert.match(errors[0]!.hint ?? '', /--substitute MISSING=VALUE/);
  });

  it('rejects $K, ${K} and ${K:...} for provided keys, listing each instance, then a summary', async () => {
    const lines = await errorsOf(`${BASE}  run: |\n    echo $FOO\n    echo \${FOO} \${FOO:-x}\n`, {}, { substitutions: ['FOO=bar'] });
    assert.deepEqual(lines, [
      'STACKER_E_SUBST_UNSUPPORTED stacker.yaml:4:10 "FOO=bar" was provided as a substitution and unsupported placeholder "$FOO" was found. Replace "$FOO" with "${{FOO}}" to use the substitution.',
      'STACKER_E_SUBST_UNSUPPORTED stacker.yaml:5:10 "FOO=bar" was provided as a substitution and unsupported placeholder "${FOO}" was found. Replace "${FOO}" with "${{FOO}}" to use the substitution.',
      'STACKER_E_SUBST_UNSUPPORTED stacker.yaml:5:17 "FOO=bar" was provided as a substitution and unsupported placeholder "${FOO:-x}" was found. Replace "${FOO:-x}" with "${{FOO:-x}}" to use the substitution.',
      'STACKER_E_SUBST_UNSUPPORTED 3 instances of unsupported placeholders found. Review log for how to update.',
    ]);
  });

  it('counts the built-ins as provided keys', async () => {
    const lines = await errorsOf(`${BASE}  run: ls $STACKER_ROOTFS_DIR\n`);
    assert.deepEqual(lines, [
      `STACKER_E_SUBST_UNSUPPORTED stacker.yaml:3:11 "STACKER_ROOTFS_DIR=${BUILTINS.STACKER_ROOTFS_DIR}" was provided as a substitution and unsupported placeholder "$STACKER_ROOTFS_DIR" was found. Replace "$STACKER_ROOTFS_DIR" with "\${{STACKER_ROOTFS_DIR}}" to use the substitution.`,
      'STACKER_E_SUBST_UNSUPPORTED 1 instances of unsupported placeholders found. Review log for how to update.',
    ]);
  });

  it('checks keys from the substitute file too', async () => {
    const lines = await errorsOf(`${BASE}  run: echo \${V}\n`, { 's.yaml': 'V: 1\n' }, { substituteFile: 's.yaml' });
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^STACKER_E_SUBST_UNSUPPORTED stacker.yaml:3:13 "V=1" was provided/);
  });

  it('reports a bad substitute file', async () => {
    assert.deepEqual(await errorsOf(BASE, {}, { substituteFile: 'nope.yaml' }), ['STACKER_E_SUBST_FILE substitute file nope.yaml not found']);
    assert.deepEqual(await errorsOf(BASE, { 's.yaml': '- a\n' }, { substituteFile: 's.yaml' }), [
      'STACKER_E_SUBST_FILE s.yaml:1:1 substitute file s.yaml must be a mapping of KEY: VALUE, found a list',
    ]);
    assert.deepEqual(await errorsOf(BASE, { 's.yaml': 'A: [1]\n' }, { substituteFile: 's.yaml' }), [
      "STACKER_E_SUBST_FILE s.yaml:1:4 value of 'A' in substitute file s.yaml must be a string, found a list",
    ]);
  });
});
