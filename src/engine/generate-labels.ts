import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { StackerError, type EventSink, type LayerSpec } from '../core/index.js';
import { mountOverlay, runSandbox, unmount } from '../runtime/index.js';
import type { OverlayStore } from '../storage/index.js';
import { runEnv } from './run-step.js';

/**
 * Runs a layer's `generate_labels` script on a throw-away writable copy of the built rootfs,
 * with a host directory bound read-write at /stacker/oci-labels; every file written there
 * becomes a label `<file name> = <content>` (stacker's semantics). Filesystem changes are
 * discarded with the temporary upper dir.
 */
export async function generateLabels(o: {
  layer: LayerSpec;
  overlay: OverlayStore;
  /** Lower dirs relative to the roots dir, top first. */
  lowers: string[];
  events: EventSink;
  signal: AbortSignal;
}): Promise<Record<string, string>> {
  const { layer, overlay } = o;
  const tmp = mkdtempSync(join(overlay.rootsDir, '.tmp-labels-'));
  const dirs = { upper: join(tmp, 'upper'), work: join(tmp, 'work'), rootfs: join(tmp, 'rootfs'), labels: join(tmp, 'labels'), script: join(tmp, 'script') };
  for (const d of Object.values(dirs)) mkdirSync(d);
  const script = layer.generateLabels.join('\n');
  writeFileSync(join(dirs.script, '.stacker-run.sh'), (script.startsWith('#!') ? '' : '#!/bin/sh -xe\n') + script + '\n', { mode: 0o755 });
  const rel = (p: string): string => relative(overlay.rootsDir, p);
  await mountOverlay({ lowers: o.lowers, upper: rel(dirs.upper), work: rel(dirs.work), target: dirs.rootfs, cwd: overlay.rootsDir });
  try {
    for (const d of ['proc', 'dev', 'sys', 'stacker']) mkdirSync(join(dirs.rootfs, d), { recursive: true });
    const r = await runSandbox({
      rootfs: dirs.rootfs,
      argv: ['/stacker/imports/.stacker-run.sh'],
      env: runEnv(layer),
      roTmpfs: [],
      roBinds: [{ source: dirs.script, dest: '/stacker/imports' }],
      binds: [{ source: dirs.labels, dest: '/stacker/oci-labels' }],
    }, { signal: o.signal, onOutput: (stream, chunk) => o.events.emit({ type: 'step-output', layer: layer.name, stream, chunk }) });
    if (r.exitCode !== 0) {
      throw new StackerError('STACKER_E_GENERATE_LABELS', `generate_labels failed for image "${layer.name}": exit status ${r.exitCode}`, {
        location: layer.location,
        hint: 'the script writes one file per label into /stacker/oci-labels',
      });
    }
    const labels: Record<string, string> = {};
    for (const name of readdirSync(dirs.labels).sort()) {
      const p = join(dirs.labels, name);
      if (lstatSync(p).isFile()) labels[name] = readFileSync(p, 'utf8');
    }
    return labels;
  } finally {
    await unmount(dirs.rootfs);
    rmSync(tmp, { recursive: true, force: true });
  }
}
