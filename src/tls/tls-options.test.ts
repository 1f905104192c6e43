/** `--tls`, `--tls-cert`, `--tls-key` (MKS_TLS, MKS_TLS_CERT, MKS_TLS_KEY) as loadConfig reads them. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';

const problems = (run: () => unknown): readonly string[] => {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('the configuration was accepted');
};

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
