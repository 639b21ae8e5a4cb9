import { StackerError } from '../../core/index.js';
import { parseImageRef, type DockerImageRef } from '../image-ref.js';
import type { OciLayout } from '../layout.js';
import type { PlatformWant } from '../platform.js';
import type { PulledImage } from '../pulled-image.js';
import { headManifest, pullImage, resolveImage, type PullOptions, type ResolvedImage } from './pull.js';
import { pushImage, type PushOptions, type PushResult } from './push.js';
import type { RegistryOptions } from './session.js';

function dockerRef(ref: string | DockerImageRef): DockerImageRef {
  if (typeof ref !== 'string') return ref;
  const r = parseImageRef(ref);
  if (r.transport !== 'docker') {
    throw new StackerError('STACKER_E_BAD_IMAGE_REF', `"${ref}" is not a docker:// reference`);
  }
  return r;
}

/**
 * A distribution-API v2 client with fixed options (insecure, credentials, fetch). Each call opens
 * its own session (auth state per repository and scope). References are `docker://...` strings
 * or parsed {@link DockerImageRef}s.
 */
export class RegistryClient {
  private readonly opts: RegistryOptions;

  constructor(opts: RegistryOptions = {}) {
    this.opts = opts;
  }

  head(ref: string | DockerImageRef, opts: RegistryOptions = {}) {
    return headManifest(dockerRef(ref), { ...this.opts, ...opts });
  }

  resolve(ref: string | DockerImageRef, want: PlatformWant & RegistryOptions): Promise<ResolvedImage> {
    return resolveImage(dockerRef(ref), want, { ...this.opts, ...want });
  }

  pull(ref: string | DockerImageRef, store: OciLayout, opts: PullOptions): Promise<PulledImage> {
    return pullImage(dockerRef(ref), store, { ...this.opts, ...opts });
  }

  push(layout: OciLayout, tag: string, dest: string | DockerImageRef, opts: PushOptions = {}): Promise<PushResult> {
    return pushImage(layout, tag, dockerRef(dest), { ...this.opts, ...opts });
  }
}
