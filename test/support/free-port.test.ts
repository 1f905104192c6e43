import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import { test } from 'node:test';
import { closeServer, freePort, listenOn as listen } from './postgres-server.ts';

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
    await closeServer(server);
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
    for (const server of servers) await closeServer(server);
  }
});
