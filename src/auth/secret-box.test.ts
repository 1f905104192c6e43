import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { createSecretBox, loadSecretKey } from './secret-box.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-secret-box-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('secret box', () => {
  test('a sealed secret opens to the original text and does not contain it', () => {
    const box = createSecretBox(crypto.randomBytes(32));
    const secret = 'Secret0123456789abcdefghijklmnop';
    const sealed = box.seal(secret);
    assert.match(sealed, /^v1:[^:]+:[^:]+:[^:]+$/);
    assert.equal(sealed.includes(secret), false);
    assert.equal(box.open(sealed), secret);
  });

  test('sealing the same secret twice gives different ciphertexts', () => {
    const box = createSecretBox(crypto.randomBytes(32));
    assert.notEqual(box.seal('same'), box.seal('same'));
  });

  test('a sealed secret does not open with another key', () => {
    const sealed = createSecretBox(crypto.randomBytes(32)).seal('secret');
    assert.throws(() => createSecretBox(crypto.randomBytes(32)).open(sealed));
  });

  test('a tampered ciphertext is refused', () => {
    const box = createSecretBox(crypto.randomBytes(32));
    const [version, iv, tag, ciphertext] = box.seal('secret value').split(':');
    const bytes = Buffer.from(ciphertext!, 'base64');
    bytes[0]! ^= 1;
    assert.throws(() => box.open([version, iv, tag, bytes.toString('base64')].join(':')));
  });

  test('text that is not a sealed secret is refused', () => {
    const box = createSecretBox(crypto.randomBytes(32));
    assert.throws(() => box.open('plain text'), /Unrecognised sealed secret/);
    assert.throws(() => box.open('v2:a:b:c'), /Unrecognised sealed secret/);
  });

  test('a key that is not 32 bytes is refused', () => {
    assert.throws(() => createSecretBox(crypto.randomBytes(16)), /32 bytes/);
  });

  test('the key file is created once with mode 0600 and read back on later loads', () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const first = loadSecretKey(undefined, dataDir);
    const file = path.join(dataDir, 'secret.key');
    assert.equal(first.length, 32);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadSecretKey(undefined, dataDir), first);
    assert.equal(fs.readFileSync(file, 'utf8').trim(), first.toString('base64'));
  });

  test('a key from the environment is used and no key file is written', () => {
    const dataDir = tempDir();
    const key = crypto.randomBytes(32);
    assert.deepEqual(loadSecretKey(key.toString('base64'), dataDir), key);
    assert.equal(fs.existsSync(path.join(dataDir, 'secret.key')), false);
  });

  test('a key file that does not hold 32 bytes is reported', () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'secret.key'), 'c2hvcnQ=\n');
    assert.throws(() => loadSecretKey(undefined, dataDir), /does not hold a base64 32-byte key/);
  });
});
