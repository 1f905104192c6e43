/**
 * The kubectl session recorded against a real v1.32 control plane (test/fixtures/kubectl-real-v1.32/,
 * a copy of ../shared/fidelity/) replayed against an emulated cluster seeded the same way, each
 * command's output compared with the real one after the same masking on both sides (uids,
 * resourceVersions, times, ages, pod and revision hashes, table column widths).
 *
 * Where the emulated cluster still differs, the command is listed in KNOWN_DIFFERENCES with the
 * reason, and the test checks that it does differ: fixing one fails the test until the entry goes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { DIALECTS } from '../support/dialects.ts';
import { kubectl } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';
import { type EmulatorHarness, suiteHarness } from './harness.ts';

const TOKEN = 'kubectl-session-token';
const CLUSTER = '3a9c1e5f-2b4d-4c6e-8f0a-b1c2d3e4f506';
const RECORDED = path.join(import.meta.dirname, '../fixtures/kubectl-real-v1.32');
const INPUTS = path.join(import.meta.dirname, '../fixtures/kubectl-session');

/** Commands whose output still differs from the real cluster's, and why. */
const KNOWN_DIFFERENCES: Record<string, string> = {
  '29-explain-ds.txt':
    "the descriptions are mks's own words, not Kubernetes': the structure (group, kind, version, the field's model name, its fields, their types and the enum) is the real one, as the explain test below checks",
};

interface Recorded {
  readonly file: string;
  readonly args: string[];
  readonly output: string;
  readonly exit: number;
}

/**
 * What `kubectl explain` prints apart from the descriptions: group, kind, version, the field and
 * its type, each sub-field with its type, and enum lines.
 */
function explainStructure(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => /^(GROUP|KIND|VERSION|FIELD):|^ {2}\S+\t<|^ {2}enum: /.test(line))
    .map((line) => line.replace(/\s+/g, ' ').trim());
}

function recorded(): Recorded[] {
  return fs
    .readdirSync(RECORDED)
    .filter((file) => file.endsWith('.txt'))
    .sort()
    .map((file) => {
      const text = fs.readFileSync(path.join(RECORDED, file), 'utf8');
      const match = /^\$ kubectl (.*)\n([\s\S]*?)\[exit (\d+)\]\n?$/.exec(text);
      if (match === null) throw new Error(`${file}: not a recorded command`);
      // The session's input files (config.conf, ds.yaml) are in INPUTS.
      const args = match[1]!
        .split(' ')
        .map((arg) =>
          arg === 'ds.yaml'
            ? path.join(INPUTS, arg)
            : arg.replace(
                /^(--from-file=config\.conf=)config\.conf$/,
                `$1${path.join(INPUTS, 'config.conf')}`,
              ),
        );
      return { file, args, output: match[2]!, exit: Number(match[3]) };
    });
}

/** The masking applied to both sides. */
function normalize(output: string): string {
  const lines = output
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'TIME')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UID')
    .replace(/("?resourceVersion"?:\s*)("\d+"|\d+|RV)/g, '$1RV')
    .replace(/server: https:\/\/\S+/g, 'server: https://MKS-SERVER')
    .replace(/kube-proxy:v1\.32\.\d+/g, 'kube-proxy:v1.32.X')
    .replace(/"gitVersion": "v1\.32\.\d+"/g, '"gitVersion": "v1.32.X"')
    .replace(/("(?:gitCommit|gitTreeState|buildDate|goVersion|compiler|platform)": )"[^"]*"/g, '$1"X"')
    .replace(/(mks\.ovh\/config-hash"?: "?)[0-9a-f]{16}/g, '$1HASH')
    .replace(/kube-proxy-(?!HASH\b|XXXXX\b)[a-z0-9]{5}\b/g, 'kube-proxy-XXXXX')
    .replace(/^kube-proxy-[a-z0-9]{6,10}(\s)/gm, 'kube-proxy-HASH$1')
    .split('\n')
    // Table columns: ages, then widths.
    .map((line) =>
      line
        .replace(/(\s)(\d+[smhd])+(?=\s|$)/g, '$1AGE')
        .replace(/ {2,}/g, ' ')
        .trimEnd(),
    );
  // Revisions are listed by name, which their masked hashes decide: compare them in any order.
  if (lines[0]?.startsWith('NAME CONTROLLER REVISION'))
    lines.splice(1, lines.length, ...lines.slice(1).sort());
  // Progress lines printed once per event seen: their number depends on timing. So does whether
  // kubectl looks before the first old pod is gone ("0 out of 3 new pods"): the recording has both
  // (08 starts at 1, 23 at 0), so a first "0 out of" line is left out on both sides;
  // test/emulator/pod-termination.test.ts holds the emulated cluster to showing it.
  if (/^Waiting for .*: 0 out of \d+ new pods/.test(lines[0] ?? '')) lines.shift();
  return lines.filter((line, i) => !line.startsWith('Waiting for') || line !== lines[i - 1]).join('\n');
}

for (const dialect of DIALECTS) {
  describe(`the recorded kubectl session (${dialect})`, { timeout: 240_000 }, () => {
    const suite = suiteHarness(dialect, {
      clusterId: CLUSTER,
      token: TOKEN,
      podStartMs: 700,
      nodeCount: 3,
      version: '1.32.13',
    });
    const dir = suite.dir;
    let harness: EmulatorHarness;

    before(async () => {
      harness = suite.harness();
      // Seeded as the recording was: kubeadm's config.conf (IPVS) and config-hash.
      const kc = new KubeConfig();
      kc.loadFromString(harness.kubeconfigText);
      const core = kc.makeApiClient(CoreV1Api);
      const apps = kc.makeApiClient(AppsV1Api);
      const cm = await core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' });
      cm.data = {
        ...cm.data,
        'config.conf': fs
          .readFileSync(path.join(INPUTS, 'config.conf'), 'utf8')
          .replace(/ipvs:\n[\s\S]*$/, ''),
      };
      await core.replaceNamespacedConfigMap({
        name: 'kube-proxy',
        namespace: 'kube-system',
        body: cm,
        fieldManager: 'kubeadm',
      });
      // kubeadm created the recorded DaemonSet with its config-hash already in the template.
      const ds = await apps.readNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
      await apps.deleteNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
      const template = ds.spec!.template;
      template.metadata = {
        ...template.metadata,
        annotations: { 'mks.ovh/config-hash': '8118d1257b154588' },
      };
      await apps.createNamespacedDaemonSet({
        namespace: 'kube-system',
        fieldManager: 'kubeadm',
        body: {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          metadata: { name: 'kube-proxy', namespace: 'kube-system', labels: ds.metadata!.labels! },
          spec: ds.spec!,
        },
      });
      await waitFor(
        async () => {
          const ds = await apps.readNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
          return ds.status?.updatedNumberScheduled === 3 && ds.status.numberAvailable === 3;
        },
        { what: 'kube-proxy rolled out', timeoutMs: 20_000 },
      );
    });
    test('kubectl explain has the structure of the real OpenAPI', async () => {
      const command = recorded().find((c) => c.file === '29-explain-ds.txt')!;
      const result = await kubectl(command.args, {
        kubeconfig: harness.kubeconfigFile,
        cacheDir: path.join(dir, 'cache'),
        timeoutMs: 40_000,
      });
      assert.equal(result.code, 0, result.stderr);
      const real = explainStructure(command.output);
      assert.ok(real.length >= 7, `the recording's structure: ${real.join(' | ')}`);
      assert.deepEqual(explainStructure(result.stdout), real, result.stdout);
      // Every field and the type are described.
      assert.match(result.stdout, /DESCRIPTION:\n {4}\S[^\n]*\n {4}\S/);
      assert.equal(result.stdout.match(/^ {2}\S+\t<[^>]+>\n(?: {2}enum: [^\n]+\n)? {4}\S/gm)?.length, 2);
    });

    test('each command prints what the real cluster printed', async () => {
      const differing: string[] = [];
      for (const command of recorded()) {
        const result = await kubectl(command.args, {
          kubeconfig: harness.kubeconfigFile,
          cacheDir: path.join(dir, 'cache'),
          timeoutMs: 40_000,
        });
        const ours = `${result.stdout}${result.stderr}`;
        const same = result.code === command.exit && normalize(ours) === normalize(command.output);
        const known = KNOWN_DIFFERENCES[command.file];
        if (!same) {
          differing.push(command.file);
          if (known === undefined) {
            process.stdout.write(
              `# ${command.file} (exit ${result.code}, real ${command.exit})\n--- real\n${normalize(command.output)}\n--- emulated\n${normalize(ours)}\n`,
            );
          }
        }
      }
      const unexpected = differing.filter((file) => KNOWN_DIFFERENCES[file] === undefined);
      const fixed = Object.keys(KNOWN_DIFFERENCES).filter((file) => !differing.includes(file));
      assert.deepEqual(unexpected, [], 'commands that print something else than the real cluster');
      assert.deepEqual(fixed, [], 'listed as known differences but now the same: remove them from the list');
    });
  });
}
