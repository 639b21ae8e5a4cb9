/**
 * Runs `build` for every node once the nodes it depends on have results, at most `jobs` at a
 * time, in the given order among those ready. Once `stopped()` says so, starts nothing new and
 * waits for what runs. `build` must not throw (it records its own failure).
 */
export async function schedule<T extends { name: string }>(
  nodes: T[],
  jobs: number,
  depsOf: (name: string) => string[],
  results: { has(name: string): boolean },
  stopped: () => boolean,
  build: (node: T) => Promise<void>,
): Promise<void> {
  const waiting = [...nodes];
  const running = new Map<string, Promise<void>>();
  for (;;) {
    if (!stopped()) {
      for (let i = 0; i < waiting.length && running.size < jobs;) {
        const node = waiting[i]!;
        if (!depsOf(node.name).every((d) => results.has(d))) {
          i++;
          continue;
        }
        waiting.splice(i, 1);
        running.set(node.name, build(node).finally(() => running.delete(node.name)));
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (waiting.length > 0 && !stopped()) throw new Error(`bug: ${waiting.map((n) => n.name).join(', ')} never became ready`);
}
