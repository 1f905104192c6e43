import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Machine, type Package, plan } from './setup-test-deps.ts';

const ALL: Package[] = ['postgresql', 'kubernetes-client', 'chromium'];

const machine = (overrides: Partial<Omit<Machine, 'present'>> & { present?: Package[] } = {}): Machine => ({
  dialects: ['sqlite', 'postgres'],
  isRoot: true,
  hasSudo: false,
  hasAptGet: true,
  ...overrides,
  present: new Set(overrides.present ?? ALL),
});

describe('npm test sets up its Debian packages', () => {
  test('nothing is installed when PostgreSQL, kubectl and chromium are all present', () => {
    assert.deepEqual(plan(machine()), { kind: 'nothing' });
  });

  test('as root, what is missing is installed with apt-get update then apt-get install', () => {
    assert.deepEqual(plan(machine({ present: ['postgresql'] })), {
      kind: 'install',
      packages: ['kubernetes-client', 'chromium'],
      commands: [
        ['apt-get', 'update'],
        ['apt-get', 'install', '-y', '--no-install-recommends', 'kubernetes-client', 'chromium'],
      ],
    });
  });

  test('not root, sudo runs apt-get non-interactively', () => {
    const steps = plan(
      machine({ present: ['postgresql', 'kubernetes-client'], isRoot: false, hasSudo: true }),
    );
    assert.equal(steps.kind, 'install');
    assert.deepEqual(steps.kind === 'install' && steps.commands, [
      ['sudo', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'update'],
      [
        'sudo',
        'env',
        'DEBIAN_FRONTEND=noninteractive',
        'apt-get',
        'install',
        '-y',
        '--no-install-recommends',
        'chromium',
      ],
    ]);
  });

  test('not root and no sudo, it fails naming the packages and the command to run as root', () => {
    const steps = plan(machine({ present: [], isRoot: false }));
    assert.equal(steps.kind, 'fail');
    assert.deepEqual(steps.kind === 'fail' && steps.packages, ALL);
    assert.match(
      steps.kind === 'fail' ? steps.message : '',
      /postgresql kubernetes-client chromium: installing them takes root, and sudo is not available\. As root: apt-get update && apt-get install -y --no-install-recommends postgresql kubernetes-client chromium/,
    );
  });

  test('without apt-get, it fails naming the packages', () => {
    const steps = plan(machine({ present: ['postgresql', 'chromium'], hasAptGet: false }));
    assert.equal(steps.kind, 'fail');
    assert.match(steps.kind === 'fail' ? steps.message : '', /kubernetes-client .*apt-get is not available/);
  });

  test('a SQLite-only run (MKS_TEST_DIALECTS=sqlite) does not install PostgreSQL', () => {
    assert.deepEqual(plan(machine({ present: ['kubernetes-client', 'chromium'], dialects: ['sqlite'] })), {
      kind: 'nothing',
    });
    const steps = plan(machine({ present: ['chromium'], dialects: ['sqlite'] }));
    assert.deepEqual(steps.kind === 'install' && steps.packages, ['kubernetes-client']);
  });
});
