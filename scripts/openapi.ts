/**
 * Generates the OpenAPI 3.1 document from the route schemas into docs/openapi.json
 * (`--write`), or fails when the committed document has drifted from the code (`--check`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createLogger } from '../src/logger.ts';
import { openServices } from '../src/services.ts';

const target = path.resolve('docs/openapi.json');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-openapi-'));
try {
  // A fixed public URL: the document must not depend on the machine it is generated on.
  const config = loadConfig({ dataDir, listen: '127.0.0.1:8080', logLevel: 'silent' }, {});
  const logger = createLogger('silent');
  const services = await openServices(config, logger);
  // Only the route schemas are read: no cluster is ever measured here.
  const app = await buildApp({ ...services, logger, storedBytes: async () => undefined });
  await app.ready();
  const text = `${JSON.stringify(app.swagger(), null, 2)}\n`;
  await app.close();
  await services.close();
  if (process.argv.includes('--write')) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
    process.stdout.write(`Wrote ${path.relative(process.cwd(), target)}\n`);
  } else {
    const committed = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
    if (committed !== text) {
      process.stderr.write(
        'docs/openapi.json is out of date: run `npm run openapi` and commit the result.\n',
      );
      process.exit(1);
    }
    process.stdout.write('docs/openapi.json matches the routes.\n');
  }
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
