/** The tests' process helpers: what they capture, and how they fail. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CapturedProcess, cleanEnv, runProcess } from './process.ts';
import { waitFor } from './wait.ts';

const node = (script: string) => [process.execPath, ['-e', script]] as const;

describe('test process helpers', () => {
  test('runProcess returns the exit code and both streams, and does not reject on a failure', async () => {
    const [command, args] = node("process.stdout.write('out'); process.stderr.write('err'); process.exit(3)");
    assert.deepEqual(await runProcess(command, args), {
      code: 3,
      signal: null,
      stdout: 'out',
      stderr: 'err',
    });
  });

  test('runProcess kills a child that outlives its bound and says what it printed', async () => {
    const [command, args] = node("process.stdout.write('started'); setInterval(() => {}, 1000)");
    await assert.rejects(
      runProcess(command, args, { timeoutMs: 2_000 }),
      /did not finish in 2000 ms\nstarted/,
    );
  });

  test('a command that cannot start rejects with its name', async () => {
    await assert.rejects(runProcess('/nonexistent/mks-no-such-command', []), /mks-no-such-command: spawn/);
  });

  test('CapturedProcess keeps the tail of its output and stops a child that ignores SIGTERM', async () => {
    const [command, args] = node(
      "process.on('SIGTERM', () => {}); process.stdout.write('x'.repeat(5000) + 'ready'); setInterval(() => {}, 1000)",
    );
    const child = new CapturedProcess(command, args, { keep: 100 });
    await waitFor(() => child.output.endsWith('ready'), { what: 'the child to print', timeoutMs: 20_000 });
    assert.equal(child.output.length, 100);
    assert.equal(child.running, true);
    await child.stop('SIGTERM', 500);
    assert.equal(child.running, false);
    assert.equal((await child.exited).signal, 'SIGKILL');
  });

  test("cleanEnv drops the caller's OVH_*, MKS_* and client settings and keeps the rest", () => {
    const callers = [
      'MKS_TEST_CLEAN_ENV',
      'OVH_TEST_CLEAN_ENV',
      'KUBECONFIG',
      'EDITOR',
      'NODE_EXTRA_CA_CERTS',
    ];
    const saved = callers.map((name) => [name, process.env[name]] as const);
    for (const name of callers) process.env[name] = 'caller';
    try {
      const env = cleanEnv({ MKS_DATA_DIR: '/given' });
      for (const name of callers) assert.equal(name in env, false, name);
      assert.equal(env.MKS_DATA_DIR, '/given');
      assert.equal(env.PATH, process.env.PATH);
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
