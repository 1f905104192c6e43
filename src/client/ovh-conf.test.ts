import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { credentialsFromIni, parseIni, readOvhConf, writeOvhConf } from './ovh-conf.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-ovh-conf-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const credentials = {
  endpoint: 'http://127.0.0.1:8080/1.0',
  applicationKey: 'AppKey0123456789',
  applicationSecret: 'Secret0123456789abcdefghijklmnop',
  consumerKey: 'Consumer0123456789abcdefghijklmn',
};

describe('ovh.conf', () => {
  test('INI text is read into sections, skipping comments and blank lines', () => {
    const sections = parseIni(
      [
        '; comment',
        '# another comment',
        'orphan=ignored',
        '[default]',
        ' endpoint = ovh-eu ',
        '',
        '[ovh-eu]',
        'application_key=abc',
        'application_secret=a=b',
        'not a pair',
      ].join('\r\n'),
    );
    assert.deepEqual(sections, {
      default: { endpoint: 'ovh-eu' },
      'ovh-eu': { application_key: 'abc', application_secret: 'a=b' },
    });
  });

  test("credentials come from the default endpoint's section", () => {
    const sections = parseIni(
      [
        '[default]',
        'endpoint=http://h:1/1.0',
        '[http://h:1/1.0]',
        'application_key=k',
        'application_secret=s',
        'consumer_key=c',
        '[ovh-eu]',
        'application_key=other',
      ].join('\n'),
    );
    assert.deepEqual(credentialsFromIni(sections), {
      endpoint: 'http://h:1/1.0',
      applicationKey: 'k',
      applicationSecret: 's',
      consumerKey: 'c',
    });
  });

  test('keys in the default section are used when the endpoint has no section', () => {
    const sections = parseIni('[default]\nendpoint=ovh-eu\napplication_key=k\nconsumer_key=c\n');
    assert.deepEqual(credentialsFromIni(sections), {
      endpoint: 'ovh-eu',
      applicationKey: 'k',
      consumerKey: 'c',
    });
    assert.deepEqual(credentialsFromIni({}), {});
  });

  test("the written file is private, in go-ovh's format, and reads back the same", () => {
    const file = path.join(dir, 'ovh.conf');
    writeOvhConf(file, credentials);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^\[default\]\nendpoint=http:\/\/127\.0\.0\.1:8080\/1\.0\n/m);
    assert.match(
      text,
      /^\[http:\/\/127\.0\.0\.1:8080\/1\.0\]\napplication_key=AppKey0123456789\napplication_secret=Secret0123456789abcdefghijklmnop\nconsumer_key=Consumer0123456789abcdefghijklmn\n/m,
    );
    assert.deepEqual(readOvhConf(file), credentials);
  });

  test('rewriting a file that others could read makes it private again', () => {
    const file = path.join(dir, 'shared.conf');
    fs.writeFileSync(file, 'old\n', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    writeOvhConf(file, { ...credentials, endpoint: 'http://127.0.0.1:9090/1.0' });
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(readOvhConf(file)?.endpoint, 'http://127.0.0.1:9090/1.0');
  });

  test('a missing file reads as nothing', () => {
    assert.equal(readOvhConf(path.join(dir, 'missing.conf')), undefined);
  });
});
