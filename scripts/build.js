#!/usr/bin/env node
/**
 * The build of `mks` as users run it: src/ bundled by esbuild into dist/, plain JavaScript, so
 * `mks serve` and its reconciler thread run without tsx's loader (a thread and a copy of the
 * module sources: about 100 MiB of RSS, docs/performance.md "Memory"). Dependencies stay external
 * (loaded from node_modules as installed, native modules included).
 *
 * dist/build.json records when the build started reading its inputs; bin/mks.js runs dist/ only
 * while no file or directory among the inputs is newer (an edit, a checkout, a file added or
 * removed), and the sources through tsx otherwise: a stale build is never run.
 *
 *   node scripts/build.js          builds dist/ (`npm run build`; `npm start` and `npm ci` run it)
 *
 * Plain JavaScript, so that bin/mks.js can ask isCurrent() without loading a TypeScript loader.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const DIST = path.join(ROOT, 'dist');
const STAMP = 'build.json';

/** What the bundles are made of, relative to the root: a change under any of these makes a build stale. */
export const INPUTS = ['src', 'scripts/build.js', 'tsconfig.json', 'package.json'];

/**
 * The product's entry points. The reconciler thread's entry is bundled beside the command, where
 * src/reconcile/pass-thread.ts looks for it when it runs from a bundle.
 */
export const ENTRIES = { mks: 'src/main.ts', 'pass-thread.entry': 'src/reconcile/pass-thread.entry.ts' };

/**
 * How users' `mks` is started: bin/mks.js's `#!/usr/bin/env -S NAME=VALUE … node …` line (the
 * installed command and `npm start` run it through that line), its environment assignments before
 * `node` and the node flags after it. The benches and the build's test start the server so too.
 */
function mksLaunch() {
  const shebang = fs.readFileSync(path.join(ROOT, 'bin', 'mks.js'), 'utf8').split('\n', 1)[0];
  const words = /^#!\/usr\/bin\/env -S (?<words>.*)$/.exec(shebang)?.groups?.words.split(/\s+/) ?? [];
  const node = words.indexOf('node');
  return {
    environment: assignments(node < 0 ? [] : words.slice(0, node)),
    flags: node < 0 ? [] : words.slice(node + 1).filter((flag) => flag !== ''),
  };
}

/** The `NAME=VALUE` words among `words`, as `env` reads them (a value may hold `=`). */
export function assignments(words) {
  const environment = {};
  for (const word of words) {
    const at = word.indexOf('=');
    if (at > 0) environment[word.slice(0, at)] = word.slice(at + 1);
  }
  return environment;
}

/** The node flags users' `mks` runs with (`mksLaunch`). */
export function mksNodeFlags() {
  return mksLaunch().flags;
}

/** The environment variables users' `mks` is started with (`mksLaunch`): glibc's malloc tuning. */
export function mksEnvironment() {
  return mksLaunch().environment;
}

/** The newest modification time among `inputs` (directories included: adding or removing a file changes theirs). */
function newestMtime(root, inputs) {
  let newest = 0;
  const visit = (file) => {
    let stat;
    try {
      stat = fs.statSync(file);
    } catch {
      return;
    }
    newest = Math.max(newest, stat.mtimeMs);
    if (stat.isDirectory()) for (const name of fs.readdirSync(file)) visit(path.join(file, name));
  };
  for (const input of inputs) visit(path.join(root, input));
  return newest;
}

/** Whether `outdir` holds a complete build of the inputs as they are now. */
export function isCurrent({ outdir = DIST, root = ROOT, inputs = INPUTS } = {}) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(outdir, STAMP), 'utf8'));
  } catch {
    return false;
  }
  return typeof stamp.inputsReadAt === 'number' && newestMtime(root, inputs) < stamp.inputsReadAt;
}

/**
 * Bundles `entries` (name → source file, relative to the root) into `outdir`. Each file is written
 * whole and renamed into place, and the stamp is removed first and written last, so a process
 * starting meanwhile sees either the previous build or no current build, never half of one.
 */
export async function build({ outdir = DIST, entries = ENTRIES } = {}) {
  const inputsReadAt = Date.now();
  fs.mkdirSync(outdir, { recursive: true });
  fs.rmSync(path.join(outdir, STAMP), { force: true });
  const { build: esbuild } = await import('esbuild');
  const result = await esbuild({
    absWorkingDir: ROOT,
    entryPoints: entries,
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'warning',
  });
  const replace = (file, contents) => {
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, contents);
    fs.renameSync(temporary, file);
  };
  for (const file of result.outputFiles) replace(file.path, file.contents);
  replace(path.join(outdir, STAMP), `${JSON.stringify({ inputsReadAt, entries })}\n`);
}

// Run as a script (not when bundled into a bench child, whose own module URL would match too).
if (
  import.meta.url.endsWith('/scripts/build.js') &&
  import.meta.url === pathToFileURL(process.argv[1] ?? '').href
) {
  await build();
}
