/**
 * The package's root directory (where package.json and web/ are), for the sources under src/ and
 * for their bundles under dist/ or .bench/dist/ alike (scripts/build.js): a bundle is one module at
 * another depth, so the root is found as the nearest directory above holding a package.json.
 */
import fs from 'node:fs';

function findPackageDir(): URL {
  let dir = new URL('./', import.meta.url);
  for (;;) {
    if (fs.existsSync(new URL('package.json', dir))) return dir;
    const parent = new URL('../', dir);
    if (parent.href === dir.href) throw new Error(`no package.json above ${import.meta.url}`);
    dir = parent;
  }
}

export const PACKAGE_DIR: URL = findPackageDir();
