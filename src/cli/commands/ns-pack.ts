/**
 * `stacker ns-pack JOB` (internal, not in the help): run by a build working outside the build
 * namespace (engine/outside.ts) inside a new one, for an upper dir it cannot read or whose ids it
 * cannot translate. Takes the mount stubs out, packs, prints the PackResult (or null) as JSON.
 */
import { packLayer } from '../../oci/layer/index.js';
import { removeMountStubs } from '../../engine/run-step.js';

export interface NsPackJob {
  upper: string;
  out: string;
  stubs: string[];
  lowers: string[];
  sourceDateEpoch?: number;
}

export async function run(argv: string[]): Promise<number> {
  const job = JSON.parse(argv[0] ?? '') as NsPackJob;
  removeMountStubs(job.upper, job.stubs, job.lowers);
  const r = await packLayer(job.upper, { outFile: job.out, ...(job.sourceDateEpoch !== undefined ? { sourceDateEpoch: job.sourceDateEpoch } : {}) });
  process.stdout.write(JSON.stringify(r));
  return 0;
}
