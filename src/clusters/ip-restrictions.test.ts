import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalBlock, isAllowed, validBlocks } from './ip-restrictions.ts';

test('canonical blocks: an address alone is a host block, IPv6 in its canonical form', () => {
  assert.equal(canonicalBlock('203.0.113.7'), '203.0.113.7/32');
  assert.equal(canonicalBlock('10.0.0.0/8'), '10.0.0.0/8');
  assert.equal(canonicalBlock('2001:DB8:0:0::/32'), '2001:db8::/32');
  assert.equal(canonicalBlock('::1'), '::1/128');
});

test('not blocks: host bits set, prefix too long, not an address, junk', () => {
  for (const text of [
    '10.0.0.1/8',
    '10.0.0.0/33',
    '300.1.1.1',
    '10.0.0.0/',
    '10.0.0.0/8/1',
    'x',
    '',
    '::1/129',
    '10.0.0.0/-1',
  ]) {
    assert.equal(canonicalBlock(text), undefined, text);
  }
  assert.throws(() => validBlocks(['10.0.0.0/8', 'nope']), /ips: 'nope' is not an IP block/);
});

test('validBlocks drops the same block written again, and keeps the first spelling as given', () => {
  assert.deepEqual(validBlocks(['10.0.0.1', '10.0.0.1/32', '2001:0db8::/32', '2001:db8::/32']), [
    '10.0.0.1',
    '2001:0db8::/32',
  ]);
});

test('isAllowed: empty allows all; otherwise the address must fall in a block, IPv4-mapped included', () => {
  assert.equal(isAllowed([], '198.51.100.1'), true);
  const blocks = ['10.42.0.0/16', '192.168.1.128/25', '2001:db8::/32'];
  assert.equal(isAllowed(blocks, '10.42.200.1'), true);
  assert.equal(isAllowed(blocks, '10.43.0.1'), false);
  assert.equal(isAllowed(blocks, '192.168.1.200'), true);
  assert.equal(isAllowed(blocks, '192.168.1.100'), false);
  assert.equal(isAllowed(blocks, '::ffff:10.42.1.1'), true);
  assert.equal(isAllowed(blocks, '2001:db8:ffff::1'), true);
  assert.equal(isAllowed(blocks, '2001:db9::1'), false);
  assert.equal(isAllowed(['127.0.0.1/32'], '::ffff:127.0.0.1'), true);
  assert.equal(isAllowed(['0.0.0.0/0'], '::1'), false);
  assert.equal(isAllowed(blocks, 'garbage'), false);
});
