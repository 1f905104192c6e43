import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { freePort } from './postgres-server.ts';

const listen = (port: number) =>
  new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

test('freePort answers loopback ports a server can listen on, below the ephemeral range', async () => {
  const range = fs.existsSync('/proc/sys/net/ipv4/ip_local_port_range')
    ? fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    : undefined;
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    assert.ok(Number.isInteger(port) && port > 0 && port < 65_536, `port ${port}`);
    // Outgoing connections take their local ports from the ephemeral range: not from there.
    if (range !== undefined && range[0]! - 10_000 >= 1_000)
      assert.ok(port < range[0]!, `port ${port} in ${range}`);
    const server = await listen(port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('freePort does not answer a port a server listens on', async () => {
  const servers: net.Server[] = [];
  try {
    const taken = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      assert.ok(!taken.has(port), `port ${port} answered while listened on`);
      servers.push(await listen(port));
      taken.add(port);
    }
  } finally {
    for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
