import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQuantity, podRequests } from './quantity.ts';

test('quantities as Kubernetes writes them: decimal and binary suffixes, millicores, exponents', () => {
  assert.equal(parseQuantity('100m'), 0.1);
  assert.equal(parseQuantity('7910m'), 7.91);
  assert.equal(parseQuantity('2'), 2);
  assert.equal(parseQuantity('1.5'), 1.5);
  assert.equal(parseQuantity('128Mi'), 128 * 2 ** 20);
  assert.equal(parseQuantity('28842548Ki'), 28842548 * 1024);
  assert.equal(parseQuantity('1G'), 1e9);
  assert.equal(parseQuantity('1e3'), 1000);
  for (const bad of ['', 'm', '1x', '1 Gi', '--1', undefined, null, {}])
    assert.equal(parseQuantity(bad), undefined);
});

test("a pod's requests add up over its containers; what is not requested counts as nothing", () => {
  assert.deepEqual(
    podRequests({
      containers: [
        { resources: { requests: { cpu: '500m', memory: '1Gi' } } },
        { resources: { requests: { cpu: '1' } } },
        { name: 'none' },
      ],
    }),
    { cpu: 1.5, memory: 2 ** 30 },
  );
  assert.deepEqual(podRequests(undefined), { cpu: 0, memory: 0 });
});
