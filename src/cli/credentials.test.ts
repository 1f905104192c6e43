import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeOvhConf } from '../client/ovh-conf.ts';
import { resolveCredentials } from './credentials.ts';

// The resolver also reads ./ovh.conf and ~/.ovh.conf: run from an empty directory and home.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-credentials-'));
const originalCwd = process.cwd();
const originalHome = process.env.HOME;
const dataDir = path.join(dir, 'data');
const fromFile = {
  endpoint: 'http://127.0.0.1:8080/1.0',
  applicationKey: 'fileAppKey',
  applicationSecret: 'fileSecret',
  consumerKey: 'fileConsumer',
};

describe('credential resolution', { skip: fs.existsSync('/etc/ovh.conf') && '/etc/ovh.conf exists' }, () => {
  before(() => {
    fs.mkdirSync(path.join(dir, 'home'));
    fs.mkdirSync(path.join(dir, 'cwd'));
    fs.mkdirSync(dataDir);
    process.chdir(path.join(dir, 'cwd'));
    process.env.HOME = path.join(dir, 'home');
    writeOvhConf(path.join(dataDir, 'ovh.conf'), fromFile);
  });
  after(() => {
    process.chdir(originalCwd);
    process.env.HOME = originalHome;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the data directory's ovh.conf is used when nothing else is set", () => {
    const file = path.join(dataDir, 'ovh.conf');
    assert.deepEqual(resolveCredentials({}, dataDir, {}), {
      credentials: fromFile,
      sources: { endpoint: file, applicationKey: file, applicationSecret: file, consumerKey: file },
    });
  });

  test('OVH_* variables override the file, field by field', () => {
    const resolved = resolveCredentials({}, dataDir, {
      OVH_ENDPOINT: 'http://127.0.0.1:9999/1.0',
      OVH_CONSUMER_KEY: 'envConsumer',
      OVH_APPLICATION_KEY: '',
    });
    assert.deepEqual(resolved.credentials, {
      ...fromFile,
      endpoint: 'http://127.0.0.1:9999/1.0',
      consumerKey: 'envConsumer',
    });
    assert.equal(resolved.sources.endpoint, 'env');
    assert.equal(resolved.sources.applicationKey, path.join(dataDir, 'ovh.conf'));
  });

  test('flags override the variables', () => {
    const resolved = resolveCredentials({ consumerKey: 'flagConsumer' }, dataDir, {
      OVH_CONSUMER_KEY: 'envConsumer',
    });
    assert.equal(resolved.credentials.consumerKey, 'flagConsumer');
    assert.equal(resolved.sources.consumerKey, 'flag');
  });

  test('./ovh.conf, then ~/.ovh.conf, come before the data directory', () => {
    const home = path.join(dir, 'home', '.ovh.conf');
    const local = path.join(dir, 'cwd', 'ovh.conf');
    writeOvhConf(home, { ...fromFile, consumerKey: 'homeConsumer' });
    try {
      const fromHome = resolveCredentials({}, dataDir, {});
      assert.equal(fromHome.credentials.consumerKey, 'homeConsumer');
      assert.equal(fromHome.sources.consumerKey, home);
      writeOvhConf(local, { ...fromFile, applicationKey: 'cwdAppKey' });
      const fromCwd = resolveCredentials({}, dataDir, {});
      assert.deepEqual(fromCwd.credentials, { ...fromFile, applicationKey: 'cwdAppKey' });
      assert.equal(fromCwd.sources.consumerKey, local);
    } finally {
      fs.rmSync(home, { force: true });
      fs.rmSync(local, { force: true });
    }
  });

  test('missing fields are named with the flags and variables that set them', () => {
    assert.throws(
      () =>
        resolveCredentials({ endpoint: 'http://h/1.0', applicationSecret: 's' }, path.join(dir, 'empty'), {}),
      (error: Error) => {
        assert.match(error.message, /No OVH_APPLICATION_KEY, OVH_CONSUMER_KEY found/);
        assert.match(error.message, /--application-key, --consumer-key/);
        assert.match(error.message, /empty\/ovh\.conf/);
        return true;
      },
    );
  });
});
