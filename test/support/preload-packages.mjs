/**
 * Loaded by `scripts/run-tests.ts` before tsx (`--import` this file, then `--import tsx`): imports
 * the npm packages the test file reaches through its static import graph, while no module hooks
 * are registered yet. On Node 20, tsx's hooks (`module.register`) run on a separate thread and every
 * module loaded after them crosses to it and back: about 1 ms a module, even for a hook that does
 * nothing, so `@kubernetes/client-node` (967 modules) took ≈ 2 s of CPU through tsx against 0.6 s
 * without it. A package imported here is in the module cache when the TypeScript sources import
 * it, so only its one specifier goes through the hooks. What the file loads is the same modules,
 * from the same files: the test sees the packages it would have loaded anyway.
 *
 * The graph is read with a regular expression, not a parser: a specifier it misses is loaded
 * through tsx as before, and one it finds in error (a comment's text) is either not a package of
 * package.json (skipped) or a package imported for nothing. A package that fails to load here is
 * left for the test's own import, which reports the error where it belongs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Packages never loaded here: tsx (the next `--import` registers its hooks). */
const SKIPPED = new Set(['tsx']);

/**
 * `import … from 'x'`, `export … from 'x'`, `import 'x'`; a type-only statement is marked by its
 * group. Dynamic imports (`import('x')`) are not followed: the sources load those on demand, and
 * loading them here would load what the test may never use.
 */
const STATIC_IMPORT = /(?:^|[\s;])(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"\n]+)['"]/g;

/** The package a bare specifier names (`@scope/name` or `name`), or undefined for a path or a builtin. */
function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:'))
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The bare specifiers of package.json's packages that `entry` reaches through its source files. */
export function packageSpecifiers(entry, root = ROOT) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const known = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.devDependencies ?? {}),
  ]);
  const specifiers = new Set();
  const seen = new Set();
  const pending = [path.resolve(entry)];
  while (pending.length > 0) {
    const file = pending.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const found = [];
    for (const match of text.matchAll(STATIC_IMPORT)) if (match[1] === undefined) found.push(match[2]);
    for (const specifier of found) {
      if (specifier.startsWith('.')) {
        const target = path.resolve(path.dirname(file), specifier);
        if (/\.(?:ts|mts|js|mjs)$/.test(target) && !target.includes(`${path.sep}node_modules${path.sep}`)) {
          pending.push(target);
        }
        continue;
      }
      const name = packageOf(specifier);
      if (name !== undefined && known.has(name) && !SKIPPED.has(name)) specifiers.add(specifier);
    }
  }
  return [...specifiers].sort();
}

const entry = process.argv[1];
if (
  isMainThread &&
  entry !== undefined &&
  /\.(?:ts|mts)$/.test(entry) &&
  path.resolve(entry).startsWith(ROOT)
) {
  for (const specifier of packageSpecifiers(entry)) {
    try {
      await import(specifier);
    } catch {
      // The test's own import reports it.
    }
  }
}
