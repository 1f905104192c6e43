/** mks's version, from its package.json (what `mks --version` prints). */
import fs from 'node:fs';

export const MKS_VERSION: string = (
  JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
