import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
// @ts-expect-error: plain JavaScript without declarations, loaded before tsx by scripts/run-tests.ts.
import { packageSpecifiers } from './preload-packages.mjs';

const specifiersOf = packageSpecifiers as (entry: string, root: string) => string[];

describe('preload-packages: the packages a test file reaches', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-preload-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  write(
    'package.json',
    JSON.stringify({
      dependencies: { kysely: '1', pino: '1', yaml: '1' },
      devDependencies: { '@scope/lib': '1' },
    }),
  );
  write(
    'test/a.test.ts',
    [
      "import assert from 'node:assert';",
      "import { helper } from '../src/helper.ts';",
      "import type { Logger } from 'pino';",
      "import {\n  Kysely,\n  type Sql,\n} from 'kysely';",
      "const later = () => import('yaml');",
      "import '@scope/lib/register';",
      "import left from 'not-in-package-json';",
    ].join('\n'),
  );
  write('src/helper.ts', "export { parse } from 'yaml';\nimport './cycle.ts';\nexport const helper = 1;");
  write('src/cycle.ts', "import './helper.ts';\nimport type { X } from 'kysely';");

  test('follows static imports of the sources, keeps package.json packages, skips type-only and dynamic ones', () => {
    assert.deepEqual(specifiersOf(path.join(root, 'test/a.test.ts'), root), [
      '@scope/lib/register',
      'kysely',
      'yaml',
    ]);
  });

  test('a file with no packages reaches none', () => {
    write('test/plain.test.ts', "import assert from 'node:assert';\nimport { helper } from './missing.ts';");
    assert.deepEqual(specifiersOf(path.join(root, 'test/plain.test.ts'), root), []);
  });
});
