/**
 * The `mks` command end to end: `serve` in a child process on a free port, then `mks api` and
 * `mks admin` as separate processes against the same data directory, then a restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseIni } from '../../src/client/ovh-conf.ts';
import { type CliSandbox, cliSandbox, type Run } from '../support/cli.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';
import { MksProcess } from '../support/mks-process.ts';
import { freePort } from '../support/postgres-server.ts';

// A bound, not a wait: a cold first start (tsx compile, CA keys) on a loaded 2-core machine is slow.
const TIMEOUT_MS = 60_000;

interface Serving {
  /** What it printed on stdout up to the banner. */
  readonly stdout: string;
  /** Everything it printed so far (logs included), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

for (const dialect of DIALECTS) {
  describe(`mks command line (${dialect})`, () => {
    let sandbox: CliSandbox;
    let root: string;
    let dataDir: string;
    let database: TestDatabase;
    let serving: Serving | undefined;
    let port: number;
    let projectId: string;
    let clusterId: string;
    let readOnly: Record<string, string>;
    let accountB: string;
    let projectB: string;

    // What only exercises the client (`mks api`) does not depend on the engine: SQLite only.
    const clientOnly = { skip: dialect !== 'sqlite' && 'client-side only: covered by the sqlite run' };

    const storeArgs = () => ['--data-dir', dataDir, '--database-url', database.url];

    /** `mks …` in the sandbox: no OVH_* variables unless `extraEnv` gives some. */
    const run = (args: string[], extraEnv: Record<string, string> = {}): Promise<Run> =>
      sandbox.run(args, { env: extraEnv, timeoutMs: TIMEOUT_MS });

    /** `mks api …` with the data directory's ovh.conf (unless OVH_* say otherwise). */
    const api = (args: string[], extraEnv: Record<string, string> = {}) =>
      run(['api', ...args, '--data-dir', dataDir], extraEnv);

    const serve = async (listenPort: number): Promise<Serving> => {
      // The clusters' Kubernetes API would default to listen port + 1, which may be taken.
      const kubePort = await freePort();
      const child = new MksProcess(
        [
          'serve',
          ...storeArgs(),
          '--listen',
          `127.0.0.1:${listenPort}`,
          '--kube-listen',
          `127.0.0.1:${kubePort}`,
          '--log-level',
          'warn',
        ],
        sandbox.env(),
        { cwd: sandbox.cwd },
      );
      try {
        // The banner is written in one piece and ends with the `Try:` line.
        await child.printed(/mks is serving[\s\S]*^Try: .*\n/m, 'the banner', TIMEOUT_MS);
      } catch (error) {
        await child.stop();
        throw error;
      }
      return { stdout: child.stdout, output: () => child.output, stop: () => child.stop() };
    };

    const parseVariables = (text: string): Record<string, string> =>
      Object.fromEntries(
        text
          .trim()
          .split('\n')
          .map((line) => {
            const equals = line.indexOf('=');
            return [line.slice(0, equals), line.slice(equals + 1)];
          }),
      );

    before(async () => {
      sandbox = cliSandbox();
      root = sandbox.root;
      dataDir = path.join(root, 'data');
      database = await createTestDatabase(dialect);
      port = await freePort();
      serving = await serve(port);
    });
    after(async () => {
      await serving?.stop();
      await database.drop();
      sandbox?.dispose();
    });

    test("the first start writes go-ovh's ovh.conf privately and prints where, without the secrets", () => {
      const file = path.join(dataDir, 'ovh.conf');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const sections = parseIni(fs.readFileSync(file, 'utf8'));
      const endpoint = `http://127.0.0.1:${port}/1.0`;
      assert.deepEqual(sections.default, { endpoint });
      const keys = sections[endpoint]!;
      assert.deepEqual(Object.keys(keys).sort(), ['application_key', 'application_secret', 'consumer_key']);
      assert.match(keys.application_key!, /^[A-Za-z0-9]{16}$/);
      assert.match(keys.application_secret!, /^[A-Za-z0-9]{32}$/);
      assert.match(keys.consumer_key!, /^[A-Za-z0-9]{32}$/);

      const stdout = serving!.stdout;
      assert.ok(stdout.includes(`mks is serving ${endpoint}`), stdout);
      assert.ok(stdout.includes(file), stdout);
      assert.match(stdout, new RegExp(`export OVH_ENDPOINT=${endpoint.replace(/\./g, '\\.')}\\n`));
      for (const name of ['OVH_APPLICATION_KEY', 'OVH_APPLICATION_SECRET', 'OVH_CONSUMER_KEY']) {
        assert.match(stdout, new RegExp(`export ${name}=`));
      }
      for (const value of Object.values(keys)) assert.equal(stdout.includes(value), false);
      const created = /Created an account, project ([0-9a-f]{32})/.exec(stdout);
      assert.ok(created, stdout);
      projectId = created[1]!;
    });

    test('mks api GET prints the JSON answer and exits 0', clientOnly, async () => {
      const result = await api(['GET', '/cloud/project']);
      assert.equal(result.code, 0, `${result.stderr}\n${serving!.output()}`);
      assert.deepEqual(JSON.parse(result.stdout), [projectId]);
    });

    test('mks api POST --data creates a cluster, and --data @file sends a file', async () => {
      const created = await api([
        'POST',
        `/cloud/project/${projectId}/kube`,
        '--data',
        '{"region":"GRA11","name":"from-cli"}',
      ]);
      assert.equal(created.code, 0, `${created.stderr}\n${serving!.output()}`);
      const cluster = JSON.parse(created.stdout) as { id: string; name: string; region: string };
      assert.equal(cluster.name, 'from-cli');
      assert.equal(cluster.region, 'GRA11');
      clusterId = cluster.id;

      const file = path.join(root, 'rename.json');
      fs.writeFileSync(file, '{"name":"renamed-from-file"}');
      const renamed = await api([
        'PUT',
        `/cloud/project/${projectId}/kube/${clusterId}`,
        '--data',
        `@${file}`,
      ]);
      assert.equal(renamed.code, 0, `${renamed.stderr}\n${serving!.output()}`);
      const read = await api(['GET', `/cloud/project/${projectId}/kube/${clusterId}`]);
      assert.equal(read.code, 0, `${read.stderr}\n${serving!.output()}`);
      assert.equal((JSON.parse(read.stdout) as { name: string }).name, 'renamed-from-file');
    });

    test(
      'an API error prints its message and query id on stderr and exits 1; bad usage exits 2',
      clientOnly,
      async () => {
        const [refused, badMethod, badJson, missingFile] = await Promise.all([
          api(['GET', '/cloud/project/0123456789abcdef0123456789abcdef']),
          api(['PATCH', '/cloud/project']),
          api(['POST', `/cloud/project/${projectId}/kube`, '--data', '{not json']),
          api(['POST', `/cloud/project/${projectId}/kube`, '--data', `@${path.join(root, 'missing.json')}`]),
        ]);
        assert.equal(refused.code, 1);
        assert.equal(refused.stdout, '');
        assert.match(refused.stderr, /404: This service does not exist \(query id EU\.ext-mks\.[^)]+\)/);
        assert.equal(badMethod.code, 2);
        assert.match(badMethod.stderr, /METHOD must be GET, POST, PUT or DELETE \(got 'PATCH'\)/);
        assert.equal(badJson.code, 2);
        assert.match(badJson.stderr, /--data is not valid JSON/);
        assert.equal(missingFile.code, 2);
        assert.match(missingFile.stderr, /--data @.*missing\.json: ENOENT/);
      },
    );

    test('OVH_* variables override the ovh.conf of the data directory', clientOnly, async () => {
      const closedPort = await freePort();
      const [result, elsewhere] = await Promise.all([
        api(['GET', '/cloud/project'], { OVH_CONSUMER_KEY: 'NoSuchConsumerKey000000000000000' }),
        api(['GET', '/cloud/project'], { OVH_ENDPOINT: `http://127.0.0.1:${closedPort}/1.0` }),
      ]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /403: This credential does not exist/);
      assert.equal(elsewhere.code, 1);
      assert.equal(
        elsewhere.stderr,
        `error: cannot reach http://127.0.0.1:${closedPort}/1.0: connect ECONNREFUSED 127.0.0.1:${closedPort}\n`,
      );
    });

    test('admin commands add an account, a project and read-only credentials while the server runs', async () => {
      const account = await run(['admin', 'account', 'create', ...storeArgs(), '--email', 'b@example.com']);
      assert.equal(account.code, 0, account.stderr);
      accountB = account.stdout.trim();
      assert.match(accountB, /^[a-z]{2}\d{5}-mks$/);

      const [project, credential, unknown] = await Promise.all([
        run(['admin', 'project', 'create', ...storeArgs(), '--account', accountB, '--name', 'b']),
        run([
          'admin',
          'credential',
          'create',
          ...storeArgs(),
          '--account',
          accountB,
          '--rule',
          'GET /cloud/project/*',
          '--rule',
          'GET /cloud/project',
        ]),
        run(['admin', 'project', 'create', ...storeArgs(), '--account', 'nobody-mks']),
      ]);
      assert.equal(project.code, 0, project.stderr);
      projectB = project.stdout.trim();
      assert.match(projectB, /^[0-9a-f]{32}$/);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /--account: no account 'nobody-mks'/);

      assert.equal(credential.code, 0, credential.stderr);
      readOnly = parseVariables(credential.stdout);
      assert.deepEqual(Object.keys(readOnly), [
        'OVH_ENDPOINT',
        'OVH_APPLICATION_KEY',
        'OVH_APPLICATION_SECRET',
        'OVH_CONSUMER_KEY',
      ]);
      assert.equal(
        readOnly.OVH_ENDPOINT,
        `http://127.0.0.1:${port}/1.0`,
        'the printed endpoint is the server',
      );

      const [list, create] = await Promise.all([
        api(['GET', '/cloud/project'], readOnly),
        api(['POST', `/cloud/project/${projectB}/kube`, '--data', '{"region":"GRA11"}'], readOnly),
      ]);
      assert.equal(list.code, 0, `${list.stderr}\n${serving!.output()}`);
      assert.deepEqual(JSON.parse(list.stdout), [projectB]);
      assert.equal(create.code, 1, `${create.stderr}\n${serving!.output()}`);
      assert.match(create.stderr, /403: This call has not been granted/);
    });

    test('a restart keeps the project, the cluster and the credentials, and follows a new port', async () => {
      await serving!.stop();
      const before = fs.readFileSync(path.join(dataDir, 'ovh.conf'), 'utf8');
      port = await freePort();
      serving = await serve(port);
      assert.equal(serving.stdout.includes('Created an account'), false, serving.stdout);
      assert.ok(serving.stdout.includes(`mks is serving http://127.0.0.1:${port}/1.0`), serving.stdout);

      const file = path.join(dataDir, 'ovh.conf');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const sections = parseIni(fs.readFileSync(file, 'utf8'));
      const endpoint = `http://127.0.0.1:${port}/1.0`;
      assert.deepEqual(sections.default, { endpoint });
      const old = parseIni(before);
      assert.deepEqual(sections[endpoint], old[old.default!.endpoint!], 'the same keys, at the new endpoint');

      const newEndpoint = { ...readOnly, OVH_ENDPOINT: endpoint };
      const [projects, cluster, readOnlyList] = await Promise.all([
        api(['GET', '/cloud/project']),
        api(['GET', `/cloud/project/${projectId}/kube/${clusterId}`]),
        api(['GET', '/cloud/project'], newEndpoint),
      ]);
      assert.equal(projects.code, 0, `${projects.stderr}\n${serving!.output()}`);
      assert.deepEqual(JSON.parse(projects.stdout), [projectId]);
      assert.equal(cluster.code, 0, cluster.stderr);
      assert.equal((JSON.parse(cluster.stdout) as { name: string }).name, 'renamed-from-file');
      assert.equal(readOnlyList.code, 0, `${readOnlyList.stderr}\n${serving!.output()}`);
      assert.deepEqual(JSON.parse(readOnlyList.stdout), [projectB]);
    });
  });
}
