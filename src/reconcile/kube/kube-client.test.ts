import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeClients } from './kube-client.ts';

const connection = (id: string) => ({ server: 'https://127.0.0.1:1', token: `mks.${id}.token` });

test('KubeClients keeps the most recently used clients only', () => {
  const clients = new KubeClients(2);
  try {
    const a = clients.for('a', connection('a'));
    const b = clients.for('b', connection('b'));
    assert.equal(clients.for('a', connection('a')), a, 'a kept client is reused');
    clients.for('c', connection('c'));
    assert.equal(clients.size, 2);
    // b was the least recently used: it made room for c, while a stayed.
    assert.equal(clients.for('a', connection('a')), a);
    assert.notEqual(clients.for('b', connection('b')), b, 'b is built again');
    assert.equal(clients.size, 2);
  } finally {
    clients.close();
  }
});

test('KubeClients builds a new client when the connection changes', () => {
  const clients = new KubeClients(2);
  try {
    const first = clients.for('a', connection('a'));
    assert.notEqual(clients.for('a', { ...connection('a'), token: 'mks.a.other' }), first);
    assert.equal(clients.size, 1);
  } finally {
    clients.close();
  }
});
