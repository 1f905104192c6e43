#!/usr/bin/env node
// The `mks` command. It runs the bundle in dist/ when scripts/build.js built it from the sources as
// they are now (plain JavaScript: no loader thread, about 100 MiB less for `mks serve`), and the
// TypeScript sources through tsx's loader otherwise, so an edited checkout never runs stale code.
import { pathToFileURL } from 'node:url';
import { DIST, isCurrent } from '../scripts/build.js';

if (isCurrent()) {
  await import(pathToFileURL(`${DIST}/mks.js`).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
