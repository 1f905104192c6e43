import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { sha1Hex, signRequest } from './signing.ts';

const nodeSha1 = (text: string) => crypto.createHash('sha1').update(text).digest('hex');

test('sha1Hex matches the published test vectors', () => {
  assert.equal(sha1Hex(''), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  assert.equal(sha1Hex('abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(
    sha1Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
    '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
  );
});

test('sha1Hex agrees with node:crypto on any text, across block boundaries and non-ASCII', () => {
  for (const length of [55, 56, 63, 64, 65, 119, 120, 1000]) {
    const text = 'é'.repeat(length);
    assert.equal(sha1Hex(text), nodeSha1(text), `length ${length}`);
  }
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => sha1Hex(text) === nodeSha1(text)),
  );
});

test("signRequest is OVH's formula", () => {
  const input = {
    secret: 'AS',
    consumerKey: 'CK',
    method: 'GET',
    url: 'https://eu.api.ovh.com/1.0/auth/details?x=1',
    body: '',
    timestamp: 1795684200,
  };
  assert.equal(
    signRequest(input),
    `$1$${nodeSha1('AS+CK+GET+https://eu.api.ovh.com/1.0/auth/details?x=1++1795684200')}`,
  );
});
