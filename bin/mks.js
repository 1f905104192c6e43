#!/usr/bin/env -S node --heap-growing-percent=30 --max-semi-space-size=16
// The `mks` command. It runs the bundle in dist/ when scripts/build.js built it from the sources as
// they are now (plain JavaScript: no loader thread, about 100 MiB less for `mks serve`), and the
// TypeScript sources through tsx's loader otherwise, so an edited checkout never runs stale code.
//
// The #! line's flags: after each full collection V8 lets the heap grow by 30 % over what stayed
// live, instead of a factor of its own choosing (up to 4×) that the process then keeps. About
// half the settled RSS of a fleet for 10–20 % more CPU; while work is in flight mks loosens it to
// 50 % and tightens it again once the work has gone quiet (src/memory/heap.ts, `burstGrowth`).
// The young generation's semi-spaces stop at 16 MiB (V8's own bound here, written out so that it
// does not follow the machine's memory). 8 saved ≈ 15–30 MiB of a settled fleet's RSS, but made a
// fleet's change scavenge twice as often, each copying the same live working set (the passes in
// flight): ≈ 11 % slower and ≈ 12 % more CPU per cluster changed in thirteen interleaved pairs.
// The API: over eight pairs in the eighteenth round the signed PUT cost the same, the GET ≈ 2
// points of hello more at the median, inside the spread (docs/performance.md, "Eighteenth round").
// `npm start` and the installed command run through this line; `node bin/mks.js` runs without it.
import { pathToFileURL } from 'node:url';
import { DIST, isCurrent } from '../scripts/build.js';

if (isCurrent()) {
  await import(pathToFileURL(`${DIST}/mks.js`).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
