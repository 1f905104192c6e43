/**
 * The build users run (scripts/build.js, docs/performance.md "Memory"): the bundle starts, answers
 * and reconciles (its reconciler thread loads the bundled entry beside it, without tsx), and a
 * build older than its sources is not current, so bin/mks.js runs the sources instead.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build, isCurrent, mksEnvironment, mksNodeFlags } from '../../scripts/build.js';
import { ApiClient } from '../../src/client/api-client.ts';
import { readOvhConf } from '../../src/client/ovh-conf.ts';
import { MKS_VERSION } from '../../src/version.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { MksProcess, ROOT } from '../support/mks-process.ts';
import { freePort } from '../support/postgres-server.ts';
import { cleanEnv, runProcess } from '../support/process.ts';

// Bounds, not waits: a cold start on a loaded 2-core machine is slow.
const TIMEOUT_MS = 60_000;

describe('the build (scripts/build.js)', () => {
  // Inside the package, as dist/ is: the bundle finds package.json, web/ and node_modules above it.
  let outdir: string;
  let scratch: string;

  before(async () => {
    fs.mkdirSync(path.join(ROOT, 'dist'), { recursive: true });
    outdir = fs.mkdtempSync(path.join(ROOT, 'dist', 'test-'));
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-build-'));
    await build({ outdir });
  });
  after(() => {
    fs.rmSync(outdir, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  test('the bundle serves the API and its reconciler thread brings a cluster to READY', async () => {
    assert.ok(fs.existsSync(path.join(outdir, 'pass-thread.entry.js')));
    const dataDir = path.join(scratch, 'data');
    const port = await freePort();
    const kubePort = await freePort();
    const bundle = new MksProcess(
      [
        'serve',
        '--data-dir',
        dataDir,
        '--listen',
        `127.0.0.1:${port}`,
        '--kube-listen',
        `127.0.0.1:${kubePort}`,
        '--log-level',
        'warn',
      ],
      // As users run it: with the environment and the node flags of bin/mks.js's #! line.
      cleanEnv({ ...mksEnvironment(), MKS_POD_START_MS: '0' }),
      { script: path.join(outdir, 'mks.js'), nodeFlags: mksNodeFlags() },
    );
    try {
      await bundle.printed(/mks is serving[\s\S]*^Try: .*\n/m, 'the banner', TIMEOUT_MS);
      const credentials = readOvhConf(path.join(dataDir, 'ovh.conf'));
      assert.ok(credentials?.applicationKey !== undefined, bundle.output);
      const client = new ApiClient(credentials as ConstructorParameters<typeof ApiClient>[0]);
      const [projectId] = await client.call<string[]>('GET', '/cloud/project');
      const kubePath = `/cloud/project/${projectId}/kube`;
      const created = await client.call<{ id: string }>('POST', kubePath, {
        name: 'bundled',
        region: 'GRA5',
      });
      await untilClusterStatus(client, kubePath, created.id, 'READY', TIMEOUT_MS);
      assert.doesNotMatch(bundle.output, /reconciler thread (failed|exited)/);
    } finally {
      await bundle.stop();
    }
  });

  test('a build is current until a source file or directory changes after it read them', () => {
    const root = path.join(scratch, 'sources');
    fs.mkdirSync(path.join(root, 'src', 'sub'), { recursive: true });
    const file = path.join(root, 'src', 'sub', 'a.ts');
    fs.writeFileSync(file, 'export const a = 1;\n');
    const past = new Date(Date.now() - 3_600_000);
    const age = () => {
      for (const each of [file, path.join(root, 'src', 'sub'), path.join(root, 'src')]) {
        fs.utimesSync(each, past, past);
      }
    };
    age();
    const current = () => isCurrent({ outdir, root, inputs: ['src'] });
    assert.equal(current(), true);

    fs.writeFileSync(file, 'export const a = 2;\n');
    assert.equal(current(), false, 'an edited file');
    age();
    assert.equal(current(), true);

    fs.writeFileSync(path.join(root, 'src', 'sub', 'b.ts'), '');
    fs.utimesSync(path.join(root, 'src', 'sub', 'b.ts'), past, past);
    assert.equal(current(), false, 'a file added (its directory changed)');
    age();
    assert.equal(current(), true);

    fs.rmSync(file);
    assert.equal(current(), false, 'a file removed (its directory changed)');
  });

  test('bin/mks.js runs through its #! line, with the node flags and environment the bundle is tested with', async () => {
    assert.notDeepEqual(mksNodeFlags(), [], 'the #! line names node flags');
    const environment = mksEnvironment();
    assert.equal(environment.MALLOC_ARENA_MAX, '2', 'the #! line bounds malloc arenas');
    assert.equal(environment.MALLOC_MMAP_THRESHOLD_, '131072', 'and fixes the mmap threshold');
    // What the process started through the line sees: its environment and node flags, printed by a
    // module node preloads (NODE_OPTIONS), the inherited value of the variable overridden.
    const probe = path.join(scratch, 'probe.cjs');
    fs.writeFileSync(
      probe,
      `process.stderr.write("probe " + JSON.stringify([${JSON.stringify(Object.keys(environment))}.map((name) => process.env[name] ?? null), process.execArgv]) + "\\n");\n`,
    );
    const result = await runProcess(path.join(ROOT, 'bin', 'mks.js'), ['--version'], {
      env: cleanEnv({ MALLOC_ARENA_MAX: '8', NODE_OPTIONS: `--require ${probe}` }),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), MKS_VERSION);
    const line = result.stderr.split('\n').find((each) => each.startsWith('probe '));
    assert.ok(line !== undefined, result.stderr);
    const [values, flags] = JSON.parse(line.slice('probe '.length)) as [(string | null)[], string[]];
    assert.deepEqual(values, Object.values(environment));
    assert.deepEqual(flags, mksNodeFlags());
  });

  test('a build without its stamp is not current', () => {
    const empty = fs.mkdtempSync(path.join(scratch, 'empty-'));
    fs.copyFileSync(path.join(outdir, 'mks.js'), path.join(empty, 'mks.js'));
    assert.equal(isCurrent({ outdir: empty }), false);
  });
});
