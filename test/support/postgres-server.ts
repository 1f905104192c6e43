/**
 * A throwaway PostgreSQL server from the machine's binaries (Debian: /usr/lib/postgresql/<v>/bin),
 * on a free loopback port, in a temporary directory; stopped and removed by `stop()`.
 * initdb refuses to run as root, so as root the server runs as the `postgres` system user.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { CapturedProcess, runProcess } from './process.ts';

export interface PostgresServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  /**
   * Stops the server process only (data kept), to test outages; `restart()` brings it back.
   * `fast` (default) is `pg_ctl stop -m fast`, `immediate` is `-m immediate` (no clean shutdown).
   */
  kill(mode?: 'fast' | 'immediate'): Promise<void>;
  restart(): Promise<void>;
}

export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((name) => fs.existsSync(path.join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/**
 * Where the kernel's range for ephemeral ports (outgoing connections' local ports, and
 * `listen(0)`'s) starts, from /proc; Linux's default when it cannot be read.
 */
function ephemeralLow(): number {
  try {
    const low = Number(
      fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // Not Linux: the default below.
  }
  return 32768;
}

/** Where `freePort` looks first: below the ephemeral range, above the well-known services'. */
const CHOSEN_FROM = 10_000;
const CHOSEN_ATTEMPTS = 50;

/** A server listening on `port` at 127.0.0.1 (0: a port the kernel picks), or the listen's error. */
export function listenOn(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export const closeServer = (server: net.Server): Promise<void> =>
  new Promise((resolve) => server.close(() => resolve()));

/** Whether `port` can be listened on at 127.0.0.1 now (the listener is closed again). */
const canListen = (port: number): Promise<boolean> =>
  listenOn(port).then(
    (server) => closeServer(server).then(() => true),
    () => false,
  );

/**
 * A loopback port nothing listens on now, for a server that will listen on it soon (a config
 * that takes a port, not 0). Chosen at random below the kernel's ephemeral range: between the
 * check and the server's listen, a port from that range can become an outgoing connection's
 * local port (a PostgreSQL pool's, an HTTP client's), and the server's listen then fails with
 * EADDRINUSE (seen in a full test run). The ephemeral range (`listen(0)`) only when no port below
 * it was free after a few tries, or when the range starts too low to leave room.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  if (low - CHOSEN_FROM >= 1_000) {
    for (let attempt = 0; attempt < CHOSEN_ATTEMPTS; attempt++) {
      const port = CHOSEN_FROM + Math.floor(Math.random() * (low - CHOSEN_FROM));
      if (await canListen(port)) return port;
    }
  }
  const server = await listenOn(0);
  const { port } = server.address() as net.AddressInfo;
  await closeServer(server);
  return port;
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-pg-'));
  const data = path.join(dir, 'data');
  if (asRoot) await runToSuccess('chown', ['-R', 'postgres:postgres', dir]);
  const run = (command: string, args: string[]) =>
    // setpriv execs the command itself (runuser would stay its parent and not pass signals on).
    asRoot
      ? ([
          'setpriv',
          ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args],
        ] as const)
      : ([command, args] as const);

  const [initCommand, initArgs] = run(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'mks',
    '--no-sync',
    '-E',
    'UTF8',
  ]);
  await runToSuccess(initCommand, initArgs);

  const port = await freePort();
  let server: CapturedProcess | undefined;
  const start = async () => {
    const [command, args] = run(path.join(bin, 'postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ]);
    const current = new CapturedProcess(command, args, { keep: 4000 });
    server = current;
    const deadline = Date.now() + 20_000;
    while (!(await canConnect(port))) {
      if (!current.running || Date.now() > deadline)
        throw new Error(`PostgreSQL did not start:\n${current.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const kill = async (mode: 'fast' | 'immediate' = 'fast') => {
    const current = server;
    if (current === undefined || !current.running) return;
    // SIGINT: "fast shutdown" (disconnect clients, stop cleanly); SIGQUIT: "immediate" (crash-like).
    await current.stop(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
  };
  await start();
  return {
    url: `postgres://mks@127.0.0.1:${port}/postgres`,
    port,
    kill,
    restart: start,
    async stop() {
      await kill('fast');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Whether the server accepts sessions: a TCP connect is not enough, a server still starting up
 * (or recovering after a restart) refuses sessions with 57P03 for a while.
 */
async function canConnect(port: number): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'mks',
    database: 'postgres',
    connectionTimeoutMillis: 2_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs a set-up command to the end; rejects with its output when it fails. */
async function runToSuccess(command: string, args: readonly string[]): Promise<void> {
  const result = await runProcess(command, args, { timeoutMs: 120_000 });
  if (result.code !== 0)
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
    );
}
