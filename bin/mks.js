#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=16
// The `mks` command. It runs the bundle in dist/ when scripts/build.js built it from the sources as
// they are now (plain JavaScript: no loader thread, about 100 MiB less for `mks serve`), and the
// TypeScript sources through tsx's loader otherwise, so an edited checkout never runs stale code.
//
// The #! line's flag: the young generation's semi-spaces stop at 16 MiB (V8's own bound here,
// written out so that it does not follow the machine's memory). 8 saved ≈ 15–30 MiB of a settled
// fleet's RSS, but made a fleet's change scavenge twice as often, each copying the same live
// working set (the passes in flight): ≈ 11 % slower and ≈ 12 % more CPU per cluster changed in
// thirteen interleaved pairs. The API: over eight pairs in the eighteenth round the signed PUT cost
// the same, the GET ≈ 2 points of hello more at the median, inside the spread
// (docs/performance.md, "Eighteenth round"). The heap's growth factor (30 %, about half the settled
// RSS of a fleet) is not given here: mks sets it once its runtime is up (src/memory/heap.ts,
// `quietHeapGrowth`; MKS_HEAP_GROWING_PERCENT), and a process started with it on the command line
// paid ≈ 20 % more CPU per signed GET ("Twenty-first round").
// The environment: glibc's malloc, which keeps what node's threads free for their next
// allocations, held back. MALLOC_ARENA_MAX=2: two arenas (the main thread's, and one V8's helper
// threads, the reconciler thread and libuv's pool share) instead of up to eight per core, each
// keeping its own freed memory. MALLOC_MMAP_THRESHOLD_=131072: glibc's first threshold, kept fixed
// (it otherwise rises to the size of the largest block freed, up to 32 MiB, so later blocks below
// it stay in the arenas, and so does the memory they leave when freed). After the first change of
// a fleet the main thread's arena stayed ≈ 45 MiB larger and the others held ≈ 40 MiB; with both,
// a change of 1,000 of 10,000 clusters peaked ≈ 25 MiB lower at the median, at the same CPU
// (docs/performance.md, "Twenty-seventh round"). Other C libraries ignore them.
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
