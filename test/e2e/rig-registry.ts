/**
 * A throwaway local registry for end-to-end tests: Debian's `docker-registry` (CNCF distribution)
 * on 127.0.0.1 with a free port, plain HTTP, a filesystem root in a temp dir, no auth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalRegistry {
  /** `127.0.0.1:<port>`: what goes before the repository in a reference. */
  host: string;
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The registry's storage root. */
  rootDir: string;
  /** Kills the registry and deletes its storage. Safe to call twice. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${stderr()}`);
    }
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer on ${url}/v2/ within 15 s:\n${stderr()}`);
}

/** Starts a registry on 127.0.0.1 (retrying on another port if the chosen one was taken). */
export async function startLocalRegistry(): Promise<LocalRegistry> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const rootDir = await mkdtemp(join(tmpdir(), 'stacker-e2e-registry-'));
    const port = await freePort();
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(rootDir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n');
    await writeFile(join(rootDir, 'config.yml'), config);
    const child = spawn('docker-registry', ['serve', join(rootDir, 'config.yml')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let errText = '';
    child.stderr?.on('data', (b: Buffer) => {
      errText = (errText + b.toString('utf8')).slice(-8192);
    });
    const onExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', onExit);
    const url = `http://127.0.0.1:${port}`;
    const stop = async (): Promise<void> => {
      process.removeListener('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(t);
      }
      await rm(rootDir, { recursive: true, force: true });
    };
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve());
      });
      await waitReady(url, child, () => errText);
      return { host: `127.0.0.1:${port}`, port, url, rootDir, stop };
    } catch (e) {
      lastError = e;
      await stop();
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
