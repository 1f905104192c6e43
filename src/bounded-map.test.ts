import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedMap } from './bounded-map.ts';

test('a BoundedMap starts over when a new key would pass its bound, and keeps it otherwise', () => {
  const map = new BoundedMap<string, number>(2);
  map.set('a', 1).set('b', 2);
  map.set('a', 3); // an existing key: no reset
  assert.deepEqual(
    [...map],
    [
      ['a', 3],
      ['b', 2],
    ],
  );
  map.set('c', 4); // a third key: emptied first
  assert.deepEqual([...map], [['c', 4]]);
  assert.equal(map.size, 1);
});
