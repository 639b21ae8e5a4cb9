import type { GraphView } from '../graph/view.js';

/** `stacker graph --format json`: the view as is (its shape is documented on `GraphView`). */
export function renderGraphJson(view: GraphView): string {
  return `${JSON.stringify(view, null, 2)}\n`;
}
