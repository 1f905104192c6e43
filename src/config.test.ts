import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, DEFAULT_REGIONS, loadConfig } from './config.ts';

const problems = (run: () => unknown): readonly string[] => {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('the configuration was accepted');
};

describe('configuration', () => {
  test('defaults give a loopback server with SQLite in ./.mks', () => {
    const config = loadConfig({}, {});
    assert.equal(config.dataDir, path.resolve('.mks'));
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080 });
    assert.equal(config.publicUrl, 'http://127.0.0.1:8080/1.0');
    assert.deepEqual(config.database, { kind: 'sqlite', file: path.resolve('.mks', 'mks.db') });
    assert.equal(config.secretKey, undefined);
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.regions, DEFAULT_REGIONS);
    assert.equal(config.timestampWindowSeconds, 180);
    assert.ok(Object.isFrozen(config));
  });

  test('true/false variables: reconciler thread and worker on by default, off with false or 0, anything else refused', () => {
    const defaults = loadConfig({}, {});
    assert.equal(defaults.reconcile.thread, true);
    assert.equal(defaults.worker, true);
    assert.equal(defaults.migrate, true);
    const off = loadConfig({}, { MKS_RECONCILER_THREAD: 'false', MKS_WORKER: '0', MKS_MIGRATE: 'false' });
    assert.equal(off.reconcile.thread, false);
    assert.equal(off.worker, false);
    assert.equal(off.migrate, false);
    assert.equal(loadConfig({}, { MKS_RECONCILER_THREAD: '' }).reconcile.thread, true);
    assert.deepEqual(
      problems(() => loadConfig({}, { MKS_RECONCILER_THREAD: 'yes', MKS_WORKER: 'off' })),
      ["MKS_WORKER: 'off' must be true or false", "MKS_RECONCILER_THREAD: 'yes' must be true or false"],
    );
  });

  test('the reconciler calls its own clusters in memory unless --reconciler-https or MKS_RECONCILER_HTTPS', () => {
    assert.equal(loadConfig({}, {}).reconcile.https, false);
    assert.equal(loadConfig({}, { MKS_RECONCILER_HTTPS: 'true' }).reconcile.https, true);
    assert.equal(loadConfig({ reconcilerHttps: true }, {}).reconcile.https, true);
    assert.equal(
      loadConfig({ reconcilerHttps: true }, { MKS_RECONCILER_HTTPS: 'false' }).reconcile.https,
      true,
    );
    assert.deepEqual(
      problems(() => loadConfig({}, { MKS_RECONCILER_HTTPS: 'https' })),
      ["MKS_RECONCILER_HTTPS: 'https' must be true or false"],
    );
  });

  test('emulated clusters in memory: idle 5 s and 256 at most by default, set by MKS_EMULATOR_*', () => {
    assert.deepEqual(loadConfig({}, {}).emulator, { idleMs: 5_000, maxLoaded: 256 });
    assert.deepEqual(
      loadConfig({}, { MKS_EMULATOR_IDLE_MS: '200', MKS_EMULATOR_MAX_LOADED: '10' }).emulator,
      { idleMs: 200, maxLoaded: 10 },
    );
    assert.deepEqual(
      problems(() => loadConfig({}, { MKS_EMULATOR_IDLE_MS: '10', MKS_EMULATOR_MAX_LOADED: '0' })),
      [
        "MKS_EMULATOR_IDLE_MS: '10' must be a whole number of at least 50",
        "MKS_EMULATOR_MAX_LOADED: '0' must be a whole number of at least 1",
      ],
    );
  });

  test("the heap's growth factor once mks is up: 30 % by default, 0 for V8's own, set by MKS_HEAP_GROWING_PERCENT", () => {
    assert.equal(loadConfig({}, {}).heapGrowingPercent, 30);
    assert.equal(loadConfig({}, { MKS_HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent, 0);
    assert.equal(loadConfig({}, { MKS_HEAP_GROWING_PERCENT: '50' }).heapGrowingPercent, 50);
    assert.deepEqual(
      problems(() => loadConfig({}, { MKS_HEAP_GROWING_PERCENT: '-5' })),
      ["MKS_HEAP_GROWING_PERCENT: '-5' must be a whole number of at least 0"],
    );
    assert.deepEqual(
      problems(() => loadConfig({}, { MKS_HEAP_GROWING_PERCENT: '30%' })),
      ["MKS_HEAP_GROWING_PERCENT: '30%' must be a whole number of at least 0"],
    );
  });

  test('flags win over environment variables', () => {
    const config = loadConfig(
      { dataDir: '/tmp/flag', listen: '127.0.0.1:9000', logLevel: 'debug' },
      { MKS_DATA_DIR: '/tmp/env', MKS_LISTEN: '127.0.0.1:9001', MKS_LOG_LEVEL: 'warn' },
    );
    assert.equal(config.dataDir, '/tmp/flag');
    assert.equal(config.publicUrl, 'http://127.0.0.1:9000/1.0');
    assert.equal(config.logLevel, 'debug');
  });

  test('environment variables are used when no flag is given', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const config = loadConfig(
      {},
      {
        MKS_DATA_DIR: '/tmp/env',
        MKS_LISTEN: '0.0.0.0:9001',
        MKS_DATABASE_URL: 'postgres://u@h/db',
        MKS_SECRET_KEY: key,
        MKS_REGIONS: 'GRA11, SBG5',
        MKS_TIMESTAMP_WINDOW_SECONDS: '60',
      },
    );
    assert.equal(config.dataDir, '/tmp/env');
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 9001 });
    assert.equal(config.publicUrl, 'http://127.0.0.1:9001/1.0', 'a wildcard address is reached on loopback');
    assert.deepEqual(config.database, { kind: 'postgres', url: 'postgres://u@h/db' });
    assert.equal(config.secretKey, key);
    assert.deepEqual(config.regions, ['GRA11', 'SBG5']);
    assert.equal(config.timestampWindowSeconds, 60);
  });

  test('an IPv6 listen address gives bracketed public URLs', () => {
    const config = loadConfig({ listen: '[::1]:8443' }, {});
    assert.deepEqual(config.listen, { host: '::1', port: 8443 });
    assert.equal(config.publicUrl, 'http://[::1]:8443/1.0');
    assert.deepEqual(config.kubeListen, { host: '::1', port: 8444 });
    assert.equal(config.kubePublicUrl, 'https://[::1]:8444');
  });

  test('a public URL is kept without its trailing slash', () => {
    assert.equal(
      loadConfig({ publicUrl: 'https://mks.example.com/1.0/' }, {}).publicUrl,
      'https://mks.example.com/1.0',
    );
  });

  test('a sqlite: database URL names the file', () => {
    assert.deepEqual(loadConfig({ databaseUrl: 'sqlite:/tmp/x/mks.db' }, {}).database, {
      kind: 'sqlite',
      file: '/tmp/x/mks.db',
    });
  });

  test('every bad value is reported at once', () => {
    const found = problems(() =>
      loadConfig(
        { listen: 'nowhere', databaseUrl: 'mysql://x', logLevel: 'loud' },
        {
          MKS_SECRET_KEY: 'c2hvcnQ=',
          MKS_REGIONS: 'gra11',
          MKS_TIMESTAMP_WINDOW_SECONDS: '0',
        },
      ),
    );
    assert.equal(found.length, 6, found.join('\n'));
    assert.match(found.join('\n'), /--listen \/ MKS_LISTEN: 'nowhere' is not HOST:PORT/);
    assert.match(found.join('\n'), /--database-url/);
    assert.match(found.join('\n'), /MKS_SECRET_KEY/);
    assert.match(found.join('\n'), /--log-level \/ MKS_LOG_LEVEL: 'loud'/);
    assert.match(found.join('\n'), /MKS_REGIONS/);
    assert.match(found.join('\n'), /MKS_TIMESTAMP_WINDOW_SECONDS/);
  });

  test('a port above 65535 and a public URL without /1.0 are refused', () => {
    assert.match(problems(() => loadConfig({ listen: '127.0.0.1:70000' }, {})).join(), /not HOST:PORT/);
    assert.match(
      problems(() => loadConfig({ publicUrl: 'http://h:1/api' }, {})).join(),
      /must be http\(s\):\/\/HOST\[:PORT\]\/1\.0/,
    );
  });
});

/** `--tls`, `--tls-cert`, `--tls-key` (MKS_TLS, MKS_TLS_CERT, MKS_TLS_KEY) as loadConfig reads them. */
describe('TLS options', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-tls-options-'));
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  fs.writeFileSync(cert, 'certificate');
  fs.writeFileSync(key, 'key');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('plain HTTP stays the default', () => {
    const config = loadConfig({}, {});
    assert.equal(config.tls, undefined);
    assert.equal(config.publicUrl, 'http://127.0.0.1:8080/1.0');
  });

  test('--tls or MKS_TLS=true serves a local-CA certificate and makes the public URL https', () => {
    for (const config of [loadConfig({ tls: true }, {}), loadConfig({}, { MKS_TLS: 'true' })]) {
      assert.deepEqual(config.tls, { kind: 'local-ca' });
      assert.equal(config.publicUrl, 'https://127.0.0.1:8080/1.0');
    }
    assert.equal(loadConfig({}, { MKS_TLS: 'false' }).tls, undefined);
  });

  test("an operator's certificate and key, by flag or environment, imply TLS", () => {
    for (const config of [
      loadConfig({ tlsCert: cert, tlsKey: key }, {}),
      loadConfig({}, { MKS_TLS_CERT: cert, MKS_TLS_KEY: key }),
    ]) {
      assert.deepEqual(config.tls, { kind: 'files', certFile: cert, keyFile: key });
      assert.equal(config.publicUrl, 'https://127.0.0.1:8080/1.0');
    }
  });

  test('an explicit public URL is kept as given', () => {
    const config = loadConfig({ tls: true, publicUrl: 'https://mks.example.com/1.0' }, {});
    assert.equal(config.publicUrl, 'https://mks.example.com/1.0');
  });

  test('a certificate without its key, unreadable files and a bad MKS_TLS are all reported at once', () => {
    assert.deepEqual(
      problems(() => loadConfig({ tlsCert: cert }, {})),
      ['--tls-cert / MKS_TLS_CERT and --tls-key / MKS_TLS_KEY: give both or neither'],
    );
    const missing = path.join(dir, 'missing.key');
    assert.deepEqual(
      problems(() => loadConfig({ tlsCert: dir, tlsKey: missing }, { MKS_TLS: 'yes' })),
      [
        "MKS_TLS: 'yes' must be true or false",
        `--tls-cert / MKS_TLS_CERT: '${dir}' is not a file`,
        `--tls-key / MKS_TLS_KEY: '${missing}' cannot be read`,
      ],
    );
    assert.deepEqual(
      problems(() => loadConfig({ tlsCert: cert, tlsKey: key }, { MKS_TLS: 'false' })),
      ['--tls-cert / --tls-key: TLS is turned off (MKS_TLS=false) but a certificate is given'],
    );
  });
});
