/**
 * The CLI's configuration and discoverability, end to end: where credentials and the project come
 * from (`mks config show`), help with examples on every command, completion scripts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { registerOperatorCommands } from '../../src/cli/operator.commands.ts';
import { type OvhCredentials, writeOvhConf } from '../../src/client/ovh-conf.ts';
import { type CliSandbox, cliSandbox, type Run } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ok = (run: Run) => {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
};

interface Shown {
  endpoint: { value: string; source: string };
  applicationKey: { value: string; source: string };
  applicationSecret: { value: string; source: string };
  consumerKey: { value: string; source: string };
  project: { value: string | null; source: string };
}

describe('mks config, help and completion', () => {
  let server: TestServer;
  let cli: CliSandbox;
  let real: OvhCredentials;
  const bogus: OvhCredentials = {
    endpoint: 'http://127.0.0.1:1/1.0',
    applicationKey: 'BogusApplicationKey0',
    applicationSecret: 'BogusApplicationSecret0000000000',
    consumerKey: 'BogusConsumerKey0000000000000000',
  };

  before(async () => {
    server = await startTestServer('sqlite');
    cli = cliSandbox(server.credentials);
    real = server.credentials;
  });
  after(async () => {
    cli?.dispose();
    await server?.close();
  });

  test('credentials are found as OVH tools find them, first match wins, and config show names the source', async () => {
    const dir = (name: string) => {
      const full = path.join(cli.root, name);
      fs.mkdirSync(full, { recursive: true });
      return full;
    };
    // ./ovh.conf (real) beats ~/.ovh.conf (bogus); ~/.ovh.conf (real) beats <data-dir>/ovh.conf (bogus).
    const withLocal = dir('with-local');
    writeOvhConf(path.join(withLocal, 'ovh.conf'), real);
    writeOvhConf(path.join(cli.home, '.ovh.conf'), bogus);
    const homeOnly = dir('home-only');
    const otherHome = dir('other-home');
    writeOvhConf(path.join(otherHome, '.ovh.conf'), real);
    const dataDir = dir('data');
    writeOvhConf(path.join(dataDir, 'ovh.conf'), bogus);
    const onlyData = dir('only-data');
    writeOvhConf(path.join(onlyData, 'ovh.conf'), real);
    const emptyHome = dir('empty-home');

    const show = (args: string[], env: Record<string, string>, cwd = cli.cwd) =>
      cli.run(['config', 'show', '-o', 'json', ...args], { env, cwd });
    const [fromEnv, fromFlags, fromLocal, fromHome, fromData, withProject, withProjectFlag, nothing] =
      await Promise.all([
        show([], cli.credentialEnv),
        show(['--endpoint', real.endpoint, '--consumer-key', real.consumerKey], {
          ...cli.credentialEnv,
          OVH_ENDPOINT: bogus.endpoint,
          OVH_CONSUMER_KEY: bogus.consumerKey,
        }),
        show([], {}, withLocal),
        show(['--data-dir', dataDir], { HOME: otherHome }, homeOnly),
        show(['--data-dir', onlyData], { HOME: emptyHome }, homeOnly),
        show([], { ...cli.credentialEnv, OVH_CLOUD_PROJECT_SERVICE: 'from-env' }),
        show(['--project', 'from-flag'], { ...cli.credentialEnv, OVH_CLOUD_PROJECT_SERVICE: 'from-env' }),
        cli.run(['cluster', 'list'], { env: { HOME: emptyHome, MKS_DATA_DIR: path.join(cli.root, 'none') } }),
      ]);
    const parsed = (run: Run) => JSON.parse(ok(run).stdout) as Shown;
    const sources = (shown: Shown) => [
      shown.endpoint.source,
      shown.applicationKey.source,
      shown.applicationSecret.source,
      shown.consumerKey.source,
    ];

    const env = parsed(fromEnv);
    assert.deepEqual(sources(env), [
      'env OVH_ENDPOINT',
      'env OVH_APPLICATION_KEY',
      'env OVH_APPLICATION_SECRET',
      'env OVH_CONSUMER_KEY',
    ]);
    assert.deepEqual(env.project, { value: server.projectId, source: 'the only project of the credentials' });
    assert.equal(env.endpoint.value, real.endpoint);
    assert.equal(env.applicationSecret.value, `${real.applicationSecret.slice(0, 4)}${'*'.repeat(28)}`);
    for (const secret of [real.applicationSecret, real.consumerKey, real.applicationKey]) {
      assert.equal(fromEnv.stdout.includes(secret), false, 'secrets are masked');
    }

    const flags = parsed(fromFlags);
    assert.deepEqual(sources(flags), [
      'flag --endpoint',
      'env OVH_APPLICATION_KEY',
      'env OVH_APPLICATION_SECRET',
      'flag --consumer-key',
    ]);
    assert.equal(flags.project.value, server.projectId, 'the flags won: the credentials work');

    const local = parsed(fromLocal);
    assert.deepEqual(new Set(sources(local)), new Set([path.join(withLocal, 'ovh.conf')]));
    assert.equal(local.project.value, server.projectId);

    const home = parsed(fromHome);
    assert.deepEqual(new Set(sources(home)), new Set([path.join(otherHome, '.ovh.conf')]));
    assert.equal(home.project.value, server.projectId);

    const data = parsed(fromData);
    assert.deepEqual(new Set(sources(data)), new Set([path.join(onlyData, 'ovh.conf')]));
    assert.equal(data.project.value, server.projectId);

    assert.deepEqual(parsed(withProject).project, {
      value: 'from-env',
      source: 'env OVH_CLOUD_PROJECT_SERVICE',
    });
    assert.deepEqual(parsed(withProjectFlag).project, { value: 'from-flag', source: 'flag --project' });

    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /^error: No OVH_ENDPOINT, OVH_APPLICATION_KEY, .* found/);
  });

  test('config show prints a table on request, and the project as id with --quiet', async () => {
    const [table, quiet] = await Promise.all([
      cli.run(['config', 'show', '-o', 'table']),
      cli.run(['config', 'show', '-q']),
    ]);
    assert.match(ok(table).stdout, /^Endpoint:\s+http:\/\/127\.0\.0\.1:\d+\/1\.0 {2}\(env OVH_ENDPOINT\)$/m);
    assert.match(table.stdout, /^Application secret:\s+\w{4}\*+ {2}\(env OVH_APPLICATION_SECRET\)$/m);
    assert.equal(ok(quiet).stdout, `${server.projectId}\n`);
  });

  test('every operator command has a description and examples in its help', () => {
    const program = new Command('mks');
    registerOperatorCommands(program);
    const missing: string[] = [];
    const visit = (command: Command, name: string) => {
      let help = '';
      command.configureOutput({ writeOut: (text) => (help += text), writeErr: (text) => (help += text) });
      command.outputHelp();
      if (command.description() === '' || !/\nExamples:\n {2}\S/.test(help)) missing.push(name);
      for (const sub of command.commands) visit(sub, `${name} ${sub.name()}`);
    };
    for (const command of program.commands) visit(command, command.name());
    assert.deepEqual(missing, []);
    assert.ok(program.commands.length >= 5);
  });

  test('mks --help and the server and admin commands show examples too', async () => {
    const runs = await Promise.all(
      [
        ['--help'],
        ['serve', '--help'],
        ['admin', 'project', 'create', '--help'],
        ['cluster', 'create', '--help'],
      ].map((args) => cli.run(args)),
    );
    for (const run of runs) assert.match(ok(run).stdout, /\nExamples:\n {2}mks /);
    const [root, , , create] = runs;
    for (const command of [
      'cluster',
      'customization',
      'capabilities',
      'config',
      'completion',
      'api',
      'serve',
    ]) {
      assert.match(root!.stdout, new RegExp(`\\n {2}${command}\\b`));
    }
    assert.match(create!.stdout, /--iptables-sync-period <duration>/);
    assert.match(
      create!.stdout,
      /--ipvs-scheduler <name>\s+kubeProxy\.ipvs\.scheduler \(choices: "dh", "lc", "nq", "rr", "sed", "sh"\)/,
    );
    assert.match(create!.stdout, /--admission-plugins-disabled <list>/);
    assert.match(create!.stdout, /Connection options/);
  });

  test('mks completion prints bash, zsh and fish scripts that complete commands, options and choices', async () => {
    const [bash, zsh, fish, unknown] = await Promise.all([
      cli.run(['completion', 'bash']),
      cli.run(['completion', 'zsh']),
      cli.run(['completion', 'fish']),
      cli.run(['completion', 'tcsh']),
    ]);
    ok(bash);
    const file = path.join(cli.root, 'mks.bash');
    fs.writeFileSync(file, bash.stdout);
    const complete = (...words: string[]) => {
      const script = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${
        words.length - 1
      }; _mks_completion; echo "\${COMPREPLY[*]}"`;
      const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.trim().split(' ');
    };
    assert.deepEqual(complete('mks', 'cl'), ['cluster']);
    assert.ok(complete('mks', 'cluster', '').includes('kubeconfig'));
    assert.deepEqual(complete('mks', 'cluster', 'get', 'abc', '-o', ''), ['table', 'json', 'yaml']);
    assert.deepEqual(complete('mks', 'customization', 'set', 'abc', '--ipvs-sch'), ['--ipvs-scheduler']);
    assert.deepEqual(complete('mks', 'cluster', 'create', '--region', 'GRA5', '--kube-proxy-mode', ''), [
      'iptables',
      'ipvs',
    ]);

    assert.match(ok(zsh).stdout, /^#compdef mks\n/);
    assert.match(zsh.stdout, /bashcompinit/);
    assert.match(zsh.stdout, /complete -o default -F _mks_completion mks/);
    assert.match(ok(fish).stdout, /complete -c mks -n '__fish_use_subcommand' -a 'cluster'/);
    assert.match(
      fish.stdout,
      /__fish_seen_subcommand_from cluster; and __fish_seen_subcommand_from create' -l region -r/,
    );
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Allowed choices are bash, zsh, fish/);
  });
});
