import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedule } from '../../src/engine/schedule.js';

/** A fake build: each node takes `ms[name]` timer ticks; `fail` names the ones that fail. */
function harness(deps: Record<string, string[]>, ms: Record<string, number>, fail: string[] = []) {
  const results = new Set<string>();
  const failed: string[] = [];
  const log: string[] = [];
  let running = 0;
  let peak = 0;
  const build = async (n: { name: string }): Promise<void> => {
    for (const d of deps[n.name] ?? []) assert.ok(results.has(d), `${n.name} started before ${d} had a result`);
    running++;
    peak = Math.max(peak, running);
    log.push(`start ${n.name}`);
    await new Promise((r) => setTimeout(r, ms[n.name] ?? 1));
    running--;
    log.push(`end ${n.name}`);
    if (fail.includes(n.name)) failed.push(n.name);
    else results.add(n.name);
  };
  return {
    results, failed, log, build,
    peak: () => peak,
    depsOf: (name: string) => deps[name] ?? [],
    stopped: () => failed.length > 0,
  };
}

const nodes = (...names: string[]) => names.map((name) => ({ name }));

test('independent nodes run at once, up to jobs, and dependents wait for their parents', async () => {
  const h = harness({ d: ['a', 'b'], e: ['d'] }, { a: 20, b: 20, c: 20, d: 5, e: 5 });
  await schedule(nodes('a', 'b', 'c', 'd', 'e'), 2, h.depsOf, h.results, h.stopped, h.build);
  assert.equal(h.peak(), 2);
  assert.deepEqual([...h.results].sort(), ['a', 'b', 'c', 'd', 'e']);
  // Ready nodes start in the given order: a and b first, c when a slot frees, d after a and b.
  assert.deepEqual(h.log.slice(0, 2), ['start a', 'start b']);
  assert.ok(h.log.indexOf('start d') > h.log.indexOf('end b'));
  assert.ok(h.log.indexOf('start e') > h.log.indexOf('end d'));
});

test('one job is the plain serial order', async () => {
  const h = harness({ c: ['a'] }, {});
  await schedule(nodes('a', 'b', 'c'), 1, h.depsOf, h.results, h.stopped, h.build);
  assert.deepEqual(h.log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('after a failure nothing new starts, and what runs ends', async () => {
  // a fails fast while b is still running; c (independent) and d (child of b) never start.
  const h = harness({ d: ['b'] }, { a: 1, b: 30, c: 1, d: 1 }, ['a']);
  await schedule(nodes('a', 'b', 'c', 'd'), 2, h.depsOf, h.results, h.stopped, h.build);
  assert.deepEqual(h.failed, ['a']);
  assert.deepEqual([...h.results], ['b']);
  assert.ok(!h.log.includes('start c') && !h.log.includes('start d'));
  assert.ok(h.log.includes('end b'));
});

test('two failures in flight are both reported', async () => {
  const h = harness({}, { a: 10, b: 10 }, ['a', 'b']);
  await schedule(nodes('a', 'b', 'c'), 2, h.depsOf, h.results, h.stopped, h.build);
  assert.deepEqual(h.failed.sort(), ['a', 'b']);
  assert.ok(!h.log.includes('start c'));
});

test('a node whose parent is not in the list never starts: that is a bug, said so', async () => {
  const h = harness({ b: ['missing'] }, {});
  await assert.rejects(schedule(nodes('a', 'b'), 2, h.depsOf, h.results, h.stopped, h.build), /b never became ready/);
});
