/**
 * The operator CLI end to end: `node bin/mks.js cluster|customization|capabilities …` as separate
 * processes against a running mks (full runtime, reconciler and emulated clusters, pods that take
 * 200 ms to start so rollouts are visible), credentials passed as OVH_* variables. The CLI is
 * client-side only, so this runs on SQLite alone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import type { Cluster } from '../../src/client/mks-client.ts';
import { type CliSandbox, cliSandbox, hasScript, type Run } from '../support/cli.ts';
import { GUIDE_KUBE_PROXY } from '../support/fixtures.ts';
import { hasKubectl, kubectl } from '../support/kubectl.ts';
import { freePort } from '../support/postgres-server.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ESC = '\x1b';

const ok = (run: Run, what = '') => {
  assert.equal(run.code, 0, `${what}\nexit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
};

describe('mks operator CLI against a running mks', () => {
  let server: TestServer;
  let cli: CliSandbox;
  let guide: Cluster;

  before(async () => {
    server = await startTestServer('sqlite', { MKS_POD_START_MS: '200' });
    cli = cliSandbox(server.credentials);
  });
  after(async () => {
    cli?.dispose();
    await server?.close();
  });

  const mks = (args: string[], options?: Parameters<CliSandbox['run']>[1]) => cli.run(args, options);
  const kube = () => `/cloud/project/${server.projectId}/kube`;
  /** Reads through the API in this process: checking outcomes costs no CLI start. */
  const getCluster = (id: string) => server.client.call<Cluster>('GET', `${kube()}/${id}`);
  const untilReady = async (id: string): Promise<Cluster> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const cluster = await getCluster(id);
      if (cluster.status === 'READY') return cluster;
      if (Date.now() > deadline) throw new Error(`cluster ${id} still ${cluster.status}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const createReady = async (name: string, body: Record<string, unknown> = {}) => {
    const created = await server.client.call<Cluster>('POST', kube(), { region: 'GRA5', name, ...body });
    return untilReady(created.id);
  };

  test('cluster create --wait, piped, prints plain progress lines on stderr and only the READY cluster as JSON', async () => {
    const run = ok(
      await mks([
        'cluster',
        'create',
        '--region',
        'GRA5',
        '--name',
        'my-super-cluster',
        '--kube-proxy-mode',
        'ipvs',
        '--iptables-min-sync-period',
        'PT1S',
        '--iptables-sync-period',
        'PT30S',
        '--ipvs-min-sync-period',
        'PT0S',
        '--ipvs-scheduler',
        'rr',
        '--ipvs-sync-period',
        'PT30S',
        '--ipvs-tcp-fin-timeout',
        'PT0S',
        '--ipvs-tcp-timeout',
        'PT0S',
        '--ipvs-udp-timeout',
        'PT0S',
        '--wait',
      ]),
    );
    guide = JSON.parse(run.stdout) as Cluster;
    assert.equal(guide.status, 'READY');
    assert.equal(guide.name, 'my-super-cluster');
    assert.equal(guide.kubeProxyMode, 'ipvs');
    assert.deepEqual(guide.customization?.kubeProxy, GUIDE_KUBE_PROXY);
    assert.ok(!run.stderr.includes(ESC), 'no terminal escapes when stderr is not a terminal');
    const lines = run.stderr.trim().split('\n');
    assert.match(lines[0]!, /^Waiting for cluster my-super-cluster \([0-9a-f-]+\) to be READY$/);
    assert.ok(
      lines.some((line) => /^\s+\d+\.\ds {2}INSTALLING/.test(line)),
      run.stderr,
    );
    assert.match(lines.at(-1)!, /done: cluster my-super-cluster .* is READY$/);
    // One line per change: no two consecutive progress lines say the same thing.
    const states = lines.slice(1, -1).map((line) => line.replace(/^\s+\S+\s+/, ''));
    for (let i = 1; i < states.length; i++) assert.notEqual(states[i], states[i - 1], run.stderr);
  });

  test('cluster list and get print a table, JSON (the default when piped), YAML, or ids with --quiet', async () => {
    const [json, table, quiet, yaml, getTable] = await Promise.all([
      mks(['cluster', 'list']),
      mks(['cluster', 'list', '-o', 'table']),
      mks(['cluster', 'list', '--quiet']),
      mks(['cluster', 'get', guide.id, '-o', 'yaml']),
      mks(['cluster', 'get', guide.id, '-o', 'table']),
    ]);
    for (const run of [json, table, quiet, yaml, getTable]) ok(run);
    const listed = JSON.parse(json.stdout) as Cluster[];
    assert.deepEqual(listed, [await getCluster(guide.id)]);
    assert.deepEqual(parse(yaml.stdout), listed[0]);
    assert.match(table.stdout, /^ID\s+NAME\s+REGION\s+VERSION\s+KUBE-PROXY\s+STATUS\n/);
    assert.match(
      table.stdout,
      new RegExp(`${guide.id}\\s+my-super-cluster\\s+GRA5\\s+\\d+\\.\\d+\\.\\d+\\s+ipvs\\s+READY`),
    );
    assert.equal(quiet.stdout, `${guide.id}\n`);
    assert.match(getTable.stdout, /^ID:\s+[0-9a-f-]+$/m);
    assert.match(getTable.stdout, /^Kube-proxy mode:\s+ipvs$/m);
    assert.match(getTable.stdout, /kubeProxy\.ipvs\.scheduler:\s+rr/);
    for (const run of [json, table, quiet, yaml, getTable]) assert.equal(run.stderr, '');
  });

  test('customization get, then set --wait replaces only the kube-proxy section and reports the rollout node by node', async () => {
    const got = ok(await mks(['customization', 'get', guide.id]));
    assert.deepEqual(JSON.parse(got.stdout), {
      apiServer: { admissionPlugins: { disabled: [], enabled: ['AlwaysPullImages', 'NodeRestriction'] } },
      kubeProxy: GUIDE_KUBE_PROXY,
    });

    const set = ok(
      await mks([
        'customization',
        'set',
        guide.id,
        '--iptables-min-sync-period',
        'PT60S',
        '--iptables-sync-period',
        'PT60S',
        '--wait',
        '-o',
        'json',
      ]),
    );
    assert.deepEqual(JSON.parse(set.stdout), {
      apiServer: { admissionPlugins: { disabled: [], enabled: ['AlwaysPullImages', 'NodeRestriction'] } },
      kubeProxy: { iptables: { minSyncPeriod: 'PT60S', syncPeriod: 'PT60S' } },
    });
    assert.match(set.stderr, /REDEPLOYING/);
    assert.match(set.stderr, /kube-proxy [0-3]\/3 nodes updated/);
    assert.match(set.stderr, /done: .* is READY/);

    const plugins = ok(
      await mks([
        'customization',
        'set',
        guide.id,
        '--admission-plugins-enabled',
        '',
        '--admission-plugins-disabled',
        'AlwaysPullImages',
        '-o',
        'yaml',
      ]),
    );
    assert.deepEqual(parse(plugins.stdout), {
      apiServer: { admissionPlugins: { disabled: ['AlwaysPullImages'], enabled: [] } },
      kubeProxy: { iptables: { minSyncPeriod: 'PT60S', syncPeriod: 'PT60S' } },
    });
    assert.match(plugins.stderr, /Follow the rollout with: mks cluster get/);

    const file = path.join(cli.root, 'customization.json');
    fs.writeFileSync(file, JSON.stringify({ kubeProxy: { ipvs: { scheduler: 'lc' } } }));
    const fromFile = ok(
      await mks([
        'customization',
        'set',
        guide.id,
        '--customization',
        `@${file}`,
        '--ipvs-tcp-timeout',
        'PT10S',
        '--wait',
      ]),
    );
    assert.deepEqual(JSON.parse(fromFile.stdout).kubeProxy, {
      ipvs: { scheduler: 'lc', tcpTimeout: 'PT10S' },
    });
  });

  test('customization set --dry-run shows the effective values, the config.conf diff and the disruption, and changes nothing', async () => {
    const before = await getCluster(guide.id);
    const preview = ok(
      await mks(['customization', 'set', guide.id, '--ipvs-scheduler', 'sh', '--dry-run', '-o', 'table']),
    );
    assert.match(preview.stdout, /^Valid: +yes$/m);
    assert.match(preview.stdout, /^Disruption: +rolling-restart \(kube-proxy restarts node by node\)$/m);
    assert.match(preview.stdout, /^kubeProxy\.ipvs\.scheduler: +sh \(set sh\)$/m);
    assert.match(preview.stdout, /^kubeProxy\.ipvs\.syncPeriod: +30s \(default\)$/m);
    assert.match(preview.stdout, /^--- config\.conf \(current\)\n\+\+\+ config\.conf \(next\)\n@@ /m);
    assert.match(preview.stdout, /^\+ {2}scheduler: sh$/m);

    const refused = await mks(['customization', 'set', guide.id, '--ipvs-tcp-timeout', 'PT2S', '--dry-run']);
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stdout).valid, false);
    assert.match(
      refused.stderr,
      /the change would be refused: customization\.kubeProxy\.ipvs\.tcpTimeout: "PT2S"/,
    );

    const after = await getCluster(guide.id);
    assert.deepEqual(after.customization, before.customization);
    assert.equal(after.updatedAt, before.updatedAt, 'a dry run changes nothing');
  });

  test('cluster reset --dry-run shows reset-required, what changes and the config.conf diff, and resets nothing', async () => {
    const before = await getCluster(guide.id);
    const preview = ok(
      await mks(['cluster', 'reset', guide.id, '--kube-proxy-mode', 'iptables', '--dry-run', '-o', 'table']),
    );
    assert.match(preview.stdout, /^Valid: +yes$/m);
    assert.match(preview.stdout, /^Disruption: +reset-required \(the cluster's Kubernetes data is erased/m);
    assert.match(preview.stdout, /^Warning: +kubeProxyMode: ipvs → iptables$/m);
    assert.match(preview.stdout, /^\+mode: iptables$/m);
    const both = await mks(['cluster', 'reset', guide.id, '--dry-run', '--wait']);
    assert.equal(both.code, 2);
    const after = await getCluster(guide.id);
    assert.equal(after.status, before.status);
    assert.equal(after.updatedAt, before.updatedAt, 'a dry run changes nothing');
  });

  test('cluster rollout shows the phase and every node with its pod, generation and readiness', async () => {
    const { generation } = JSON.parse(ok(await mks(['cluster', 'rollout', guide.id, '-o', 'json'])).stdout);
    const shown = ok(await mks(['cluster', 'rollout', guide.id, '-o', 'table'])).stdout;
    assert.match(shown, /^Phase: +done$/m);
    assert.match(shown, /^Nodes: +3\/3 updated, 3 available$/m);
    assert.match(shown, /^NODE +POD +GENERATION +CONFIG +READY +RESTARTS +MESSAGE$/m);
    const rows = shown.split('\n').filter((line) => / kube-proxy-\S+ /.test(line));
    assert.equal(rows.length, 3);
    for (const row of rows)
      assert.match(row, new RegExp(`^\\S+ +kube-proxy-\\S+ +${generation} +[0-9a-f]{16} +yes +0$`));
    assert.equal(ok(await mks(['cluster', 'rollout', guide.id, '-q'])).stdout, '', 'no node is behind');
  });

  test('customization history lists the changes newest first; revert --wait restores an earlier one', async () => {
    const cluster = await createReady('audited', {
      customization: { kubeProxy: { iptables: { syncPeriod: 'PT40S' } } },
    });
    await server.client.call('PUT', `${kube()}/${cluster.id}/customization`, {
      kubeProxy: { iptables: { syncPeriod: 'PT50S' } },
    });
    await untilReady(cluster.id);

    assert.equal(ok(await mks(['customization', 'history', cluster.id, '-q'])).stdout, '2\n1\n');
    const listed = ok(await mks(['customization', 'history', cluster.id, '-o', 'table'])).stdout.split('\n');
    assert.match(listed[0]!, /^GENERATION +ACTION +AT +BY +OUTCOME +CHANGES$/);
    assert.match(
      listed[1]!,
      /^2 +customize +\S+ +\S.* +READY +kubeProxy\.iptables\.syncPeriod: PT40S → PT50S$/,
    );
    assert.match(listed[2]!, /^1 +create +/);

    const usage = await mks(['customization', 'revert', cluster.id, 'first']);
    assert.equal(usage.code, 2);
    const reverted = ok(await mks(['customization', 'revert', cluster.id, '1', '--wait', '-o', 'json']));
    assert.match(reverted.stderr, /Customization of generation 1 restored: generation 3 is being applied/);
    assert.deepEqual(JSON.parse(reverted.stdout).kubeProxy, { iptables: { syncPeriod: 'PT40S' } });
    assert.equal((await getCluster(cluster.id)).status, 'READY');
  });

  test('customization edit opens $EDITOR, refuses an invalid file before sending, shows the changes, sends them', async () => {
    const editor = (name: string, script: string) => {
      const file = path.join(cli.root, name);
      fs.writeFileSync(file, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
      return file;
    };
    // The CLI's temporary files go here, to see which it leaves.
    const tmp = path.join(cli.root, 'tmp');
    fs.mkdirSync(tmp);
    const env = (file: string) => ({ ...cli.credentialEnv, EDITOR: file, TMPDIR: tmp });
    const kept = () => fs.readdirSync(tmp).filter((name) => name.startsWith('mks-edit-'));
    const customization = () => server.client.call('GET', `${kube()}/${guide.id}/customization`);
    const before = await customization();

    const invalid = await mks(['customization', 'edit', guide.id], {
      env: env(editor('invalid.sh', `sed -i 's/scheduler: lc/scheduler: fastest/' "$1"`)),
    });
    assert.equal(invalid.code, 1, invalid.stderr);
    assert.match(
      invalid.stderr,
      /customization\.kubeProxy\.ipvs\.scheduler: "fastest" is not one of dh, lc, nq, rr, sed, sh/,
    );
    assert.match(invalid.stderr, /Nothing was sent; your edit is kept in \S+\.yaml/);
    const tooShort = await mks(['customization', 'edit', guide.id], {
      env: env(editor('short.sh', `sed -i 's/tcpTimeout: PT10S/tcpTimeout: PT2S/' "$1"`)),
    });
    assert.equal(tooShort.code, 1, tooShort.stderr);
    assert.match(tooShort.stderr, /tcpTimeout: "PT2S" cannot be set between 'PT0S' and 'PT5S'/);
    assert.deepEqual(await customization(), before, 'nothing was sent');
    assert.equal(kept().length, 2, 'each refused edit is kept, in a directory of its own');

    const unchanged = ok(await mks(['customization', 'edit', guide.id, '-q'], { env: env('true') }));
    assert.match(unchanged.stderr, /Edit cancelled, no changes made/);
    assert.equal(kept().length, 2, 'an edit saved unchanged leaves nothing behind');

    const edited = ok(
      await mks(['customization', 'edit', guide.id, '--wait', '-o', 'json'], {
        env: env(editor('valid.sh', `sed -i 's/scheduler: lc/scheduler: sh/' "$1"`)),
      }),
    );
    assert.match(
      edited.stderr,
      /Changes to the customization of cluster [0-9a-f-]+:\n {2}~ kubeProxy\.ipvs\.scheduler: lc → sh\n/,
    );
    assert.match(edited.stderr, /done: .* is READY/);
    const after = JSON.parse(edited.stdout);
    assert.deepEqual(after.kubeProxy, { ipvs: { scheduler: 'sh', tcpTimeout: 'PT10S' } });
    assert.deepEqual(after.apiServer, { admissionPlugins: { disabled: ['AlwaysPullImages'], enabled: [] } });
    assert.equal(kept().length, 2, 'an edit sent leaves nothing behind');

    // Refused by the API (the cluster is deleted while its customization is in the editor): the
    // error is the API's, and the edit is kept for another try.
    const doomed = await createReady('edit-refused');
    const editing = path.join(cli.root, 'editing');
    const go = path.join(cli.root, 'go');
    const refusedRun = mks(['customization', 'edit', doomed.id], {
      env: env(
        editor(
          'waits.sh',
          `sed -i 's/^kubeProxy: {}$/kubeProxy: {iptables: {syncPeriod: PT60S}}/' "$1"\n` +
            `touch '${editing}'\ni=0\nwhile [ ! -f '${go}' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done`,
        ),
      ),
    });
    for (let i = 0; !fs.existsSync(editing); i++) {
      assert.ok(i < 400, 'the editor did not start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await server.client.call('DELETE', `${kube()}/${doomed.id}`);
    fs.writeFileSync(go, '');
    const refused = await refusedRun;
    assert.equal(refused.code, 1, refused.stderr);
    // Being deleted (409), or already gone (404): the emulated cluster leaves within moments.
    assert.match(
      refused.stderr,
      /error: (409: Cluster \S+ is being deleted|404: Cluster \S+ does not exist)/,
    );
    const keptAt = /Your edit is kept in (\S+\.yaml)\n/.exec(refused.stderr)?.[1];
    assert.ok(keptAt !== undefined, refused.stderr);
    assert.match(fs.readFileSync(keptAt, 'utf8'), /syncPeriod: PT60S/);
    assert.equal(kept().length, 3);
  });

  test('--wait on a terminal shows a live line (status, rollout, elapsed) and tables by default', {
    skip: !hasScript() && 'util-linux `script` is missing: no pseudo-terminal to test the live display with',
  }, async () => {
    const run = await cli.runOnTerminal([
      'customization',
      'set',
      guide.id,
      '--ipvs-scheduler',
      'rr',
      '--wait',
    ]);
    ok(run);
    assert.ok(run.stdout.includes(`\r${ESC}[2K`), 'the line is redrawn in place');
    assert.match(run.stdout, /my-super-cluster: REDEPLOYING · (kube-proxy [^·]+ · )?\d+\.\ds/);
    assert.match(run.stdout, /✓ cluster my-super-cluster .* is READY \(\d+\.\ds\)/);
    assert.ok(run.stdout.includes(`${ESC}[?25h`), 'the cursor is shown again');
    assert.match(run.stdout, /^kubeProxy\.ipvs\.scheduler:\s+rr/m, 'a table on a terminal');
  });

  test('cluster kubeconfig writes a file kubectl uses at once, or merges into ~/.kube/config', {
    skip: !hasKubectl() && 'kubectl is missing',
  }, async () => {
    const written = ok(await mks(['cluster', 'kubeconfig', guide.id, '-q']));
    const file = written.stdout.trim();
    assert.equal(file, path.join(cli.cwd, 'kubeconfig-my-super-cluster.yaml'));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const cm = await kubectl(['get', 'cm', 'kube-proxy', '-n', 'kube-system', '-o', 'yaml'], {
      kubeconfig: file,
      env: cli.env(),
    });
    assert.equal(cm.code, 0, cm.stderr);
    assert.match(cm.stdout, /mode: ipvs/);
    assert.match(cm.stdout, /scheduler: rr/);

    const kubeDir = path.join(cli.home, '.kube');
    fs.mkdirSync(kubeDir, { recursive: true });
    fs.writeFileSync(
      path.join(kubeDir, 'config'),
      'apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: "https://other.example:6443"}\n' +
        'users:\n- name: other\n  user: {token: t}\ncontexts:\n- name: other\n  context: {cluster: other, user: other}\n' +
        'current-context: other\n',
    );
    const merged = ok(await mks(['cluster', 'kubeconfig', guide.id, '--merge', '-o', 'json']));
    assert.equal(JSON.parse(merged.stdout).file, path.join(kubeDir, 'config'));
    const config = parse(fs.readFileSync(path.join(kubeDir, 'config'), 'utf8'));
    assert.deepEqual(
      config.contexts.map((c: { name: string }) => c.name),
      ['other', 'kubernetes-admin-my-super-cluster@my-super-cluster'],
    );
    assert.equal(config['current-context'], 'kubernetes-admin-my-super-cluster@my-super-cluster');
    const nodes = await kubectl(['get', 'nodes'], { env: cli.env() });
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(nodes.stdout.trim().split('\n').length, 4, nodes.stdout);

    const stdout = ok(await mks(['cluster', 'kubeconfig', guide.id, '--file', '-']));
    assert.equal(parse(stdout.stdout).kind, 'Config');
  });

  test('capabilities list regions and admission plugins in every format', async () => {
    const [regions, plugins, pluginsTable] = await Promise.all([
      mks(['capabilities', 'regions', '-q']),
      mks(['capabilities', 'admission-plugins', '-o', 'json']),
      mks(['capabilities', 'admission-plugins', '-o', 'table']),
    ]);
    assert.ok(ok(regions).stdout.split('\n').includes('GRA5'));
    assert.deepEqual(JSON.parse(ok(plugins).stdout), ['AlwaysPullImages', 'NodeRestriction']);
    assert.equal(ok(pluginsTable).stdout, 'PLUGIN\nAlwaysPullImages\nNodeRestriction\n');
  });

  test('rename, then reset --wait: fields not given go back to defaults (ipvs, no customization)', async () => {
    const cluster = await createReady('to-reset', {
      kubeProxyMode: 'iptables',
      customization: { kubeProxy: { iptables: { syncPeriod: 'PT45S' } } },
    });
    const renamed = ok(await mks(['cluster', 'rename', cluster.id, 'renamed', '-o', 'json']));
    assert.equal(JSON.parse(renamed.stdout).name, 'renamed');
    const reset = ok(await mks(['cluster', 'reset', cluster.id, '--wait', '-o', 'json']));
    const after = JSON.parse(reset.stdout) as Cluster;
    assert.equal(after.status, 'READY');
    assert.equal(after.name, 'renamed');
    assert.equal(after.kubeProxyMode, 'ipvs');
    assert.deepEqual(after.customization?.kubeProxy, {});
    assert.match(reset.stderr, /RESETTING/);

    const withFlags = ok(
      await mks([
        'cluster',
        'reset',
        cluster.id,
        '--kube-proxy-mode',
        'iptables',
        '--iptables-sync-period',
        'PT40S',
      ]),
    );
    const resetting = JSON.parse(withFlags.stdout) as Cluster;
    assert.equal(resetting.kubeProxyMode, 'iptables');
    assert.deepEqual(resetting.customization?.kubeProxy, { iptables: { syncPeriod: 'PT40S' } });
    const waited = ok(await mks(['cluster', 'wait', cluster.id, '-q']));
    assert.equal(waited.stdout, `${cluster.id}\n`);
    assert.equal((await getCluster(cluster.id)).status, 'READY');
  });

  test('errors: API refusals exit 1 with the message and query id on stderr; usage errors exit 2', async () => {
    const closedPort = await freePort();
    const [
      notFound,
      invalid,
      unreachable,
      unknownOption,
      missingArgument,
      badChoice,
      badJson,
      nothing,
      noCommand,
    ] = await Promise.all([
      mks(['cluster', 'get', 'no-such-cluster']),
      mks([
        'customization',
        'set',
        guide.id,
        '--iptables-min-sync-period',
        'PT45S',
        '--iptables-sync-period',
        'PT30S',
      ]),
      mks(['cluster', 'list'], {
        env: { ...cli.credentialEnv, OVH_ENDPOINT: `http://127.0.0.1:${closedPort}/1.0` },
      }),
      mks(['cluster', 'list', '--no-such-flag']),
      mks(['cluster', 'get']),
      mks(['cluster', 'list', '-o', 'xml']),
      mks(['customization', 'set', guide.id, '--customization', '{not json']),
      mks(['customization', 'set', guide.id]),
      mks(['cluster']),
    ]);
    assert.equal(notFound.code, 1);
    assert.equal(notFound.stdout, '');
    assert.match(notFound.stderr, /^error: 404: .*no-such-cluster.* \(query id EU\.ext-mks\.[^)]+\)\n$/);
    assert.equal(invalid.code, 1);
    assert.match(
      invalid.stderr,
      /^error: 400: customization\.kubeProxy\.iptables\.minSyncPeriod: "PT45S".*\(query id /,
    );
    assert.equal(unreachable.code, 1);
    assert.equal(
      unreachable.stderr,
      `error: cannot reach http://127.0.0.1:${closedPort}/1.0: connect ECONNREFUSED 127.0.0.1:${closedPort}\n`,
    );
    for (const run of [unknownOption, missingArgument, badChoice, badJson, nothing, noCommand]) {
      assert.equal(run.code, 2, `${run.stderr}`);
      assert.equal(run.stdout, '');
    }
    assert.match(unknownOption.stderr, /unknown option '--no-such-flag'/);
    assert.match(missingArgument.stderr, /missing required argument 'cluster'/);
    assert.match(badChoice.stderr, /Allowed choices are table, json, yaml/);
    assert.match(badJson.stderr, /--customization is not valid JSON/);
    assert.match(nothing.stderr, /nothing to set/);
  });

  test('Ctrl-C stops waiting with exit 130 and says the operation goes on; it does', async () => {
    const cluster = await createReady('interrupted');
    let sent = false;
    const run = await mks(['cluster', 'reset', cluster.id, '--kube-proxy-mode', 'iptables', '--wait'], {
      onStderr: (soFar, child) => {
        if (!sent && /RESETTING/.test(soFar)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.equal(run.code, 130, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /Interrupted: stopped waiting; the operation was not cancelled/);
    const after = await untilReady(cluster.id);
    assert.equal(after.kubeProxyMode, 'iptables', 'the reset went on');
  });

  test('a rollout that ends in ERROR exits 1 with the reason', {
    skip: !hasKubectl() && 'kubectl is missing',
  }, async () => {
    const cluster = await createReady('breaks');
    const kubeconfig = ok(
      await mks(['cluster', 'kubeconfig', cluster.id, '--file', path.join(cli.root, 'breaks.yaml')]),
    );
    const config = JSON.parse(kubeconfig.stdout).file as string;
    // A DaemonSet pointed at a config kube-proxy refuses: the next restart crash-loops.
    const manifest = path.join(cli.root, 'broken.json');
    fs.writeFileSync(
      manifest,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-proxy-broken', namespace: 'kube-system' },
        data: {
          'config.conf':
            'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n' +
            'iptables:\n  syncPeriod: PT30S\n',
        },
      }),
    );
    const k = (...args: string[]) => kubectl(args, { kubeconfig: config, env: cli.env() });
    ok(await k('create', '--validate=false', '-f', manifest));
    ok(
      await k(
        'patch',
        'ds',
        'kube-proxy',
        '-n',
        'kube-system',
        '--type',
        'strategic',
        '-p',
        JSON.stringify({
          spec: {
            template: {
              spec: { volumes: [{ name: 'kube-proxy', configMap: { name: 'kube-proxy-broken' } }] },
            },
          },
        }),
      ),
    );
    const run = await mks([
      'customization',
      'set',
      cluster.id,
      '--iptables-sync-period',
      'PT40S',
      '--wait',
      '-o',
      'json',
    ]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /error: cluster [0-9a-f-]+ is ERROR: kube-proxy on node \S+ .*CrashLoopBackOff/);
  });

  test('delete --wait waits until the cluster is gone; --quiet prints its id', async () => {
    const cluster = await createReady('doomed');
    const run = ok(await mks(['cluster', 'delete', cluster.id, '--wait', '-q']));
    assert.equal(run.stdout, `${cluster.id}\n`);
    assert.match(run.stderr, /done: .* deleted/);
    const gone = await server.client.raw('GET', `${kube()}/${cluster.id}`);
    assert.equal(gone.status, 404);
  });
});
