/** mks's version, from its package.json (what `mks --version` prints). */
import fs from 'node:fs';
import { PACKAGE_DIR } from './package-dir.ts';

export const MKS_VERSION: string = (
  JSON.parse(fs.readFileSync(new URL('package.json', PACKAGE_DIR), 'utf8')) as { version: string }
).version;
