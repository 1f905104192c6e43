import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clusterIdOfServerName,
  clusterIdOfToken,
  clusterTokenCheck,
  clusterTokens,
  kubeServerName,
} from './cluster-tokens.ts';

const ID = '5e1f0c2a-7b3d-4e6f-8a90-1b2c3d4e5f60';
const OTHER = '0c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5';

test('a token names its cluster, which says nothing of its validity', async () => {
  const token = clusterTokens(Buffer.alloc(32, 7));
  assert.equal(clusterIdOfToken(token(ID, 1)), ID);
  assert.equal(clusterIdOfToken('mks.not an id.abc'), undefined);
  assert.equal(clusterIdOfToken('Bearer-ish'), undefined);
  const check = clusterTokenCheck(token, {
    get: async (id) =>
      id === ID || id === OTHER
        ? { id, tokenEpoch: 1, status: 'READY' as const, deletedAt: null }
        : undefined,
  });
  assert.equal(await check(ID, token(ID, 1)), true);
  assert.equal(await check(OTHER, token(ID, 1)), false, "another cluster's token");
  assert.equal(await check(ID, `mks.${ID}.forged`), false);
  // As long as the token in characters, not in bytes: refused, not thrown.
  assert.equal(await check(ID, `${token(ID, 1).slice(0, -1)}é`), false);
});

test('tokens of the form issued before they named their cluster are still accepted', async () => {
  const token = clusterTokens(Buffer.alloc(32, 7));
  const legacy = token(ID, 1).replace(`mks.${ID}.`, 'mks.');
  let epoch = 1;
  const check = clusterTokenCheck(token, {
    get: async (id) => ({ id, tokenEpoch: epoch, status: 'READY' as const, deletedAt: null }),
  });
  assert.equal(await check(ID, legacy), true);
  assert.equal(await check(OTHER, legacy), false);
  epoch = 2;
  assert.equal(await check(ID, legacy), false, 'a reset kubeconfig invalidates them too');
});

test("a cluster's server name maps back to the cluster, and nothing else does", () => {
  assert.equal(clusterIdOfServerName(kubeServerName(ID)), ID);
  assert.equal(clusterIdOfServerName(kubeServerName(ID).toUpperCase()), ID);
  assert.equal(clusterIdOfServerName('localhost'), undefined);
  assert.equal(clusterIdOfServerName(`a.b.clusters.mks.internal`), undefined);
  assert.equal(clusterIdOfServerName('clusters.mks.internal'), undefined);
});
