/**
 * What fastify costs on the clusters' Kubernetes API listener (docs/performance.md, "Seventh round:
 * the clusters' API listener"): one HTTPS listener with mks's local CA, answering every GET with the
 * same 4.3 KiB JSON body, served by node's `https` request handler alone (`raw`), by fastify with the
 * listener's shape (`fastify`: the two wildcard routes, a buffer body parser for every media type)
 * and with two limit hooks like `registerKubeApiLimits`' (`fastify-hooks`); `raw-delayed` answers
 * 5 ms later, as a write answers after the store's flush. A worker thread makes the calls (4 in
 * flight, keep-alive). Prints µs of the serving thread's CPU per call and, with `--allocations`,
 * KiB it allocated per call (sampled). Run alone, one mode per process, interleaved:
 *
 *   node --import tsx bench/kube-listener.ts raw|raw-delayed|fastify|fastify-hooks [--calls 5000] [--warmup 3000] [--allocations]
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { FastifyReply } from 'fastify';
import { loadOrCreateLocalTls } from '../src/tls/local-ca.ts';
import { sampledBytes, startAllocationSampling } from './lib/allocations.ts';
import { threadCpuSeconds } from './lib/thread-cpu.ts';

const MODES = ['raw', 'raw-delayed', 'fastify', 'fastify-hooks'] as const;
type Mode = (typeof MODES)[number];
const PATH =
  '/k8s/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy';
const ANSWER_TYPE = 'application/json; charset=utf-8';

interface Job {
  readonly port: number;
  readonly caPem: string;
  readonly calls: number;
  readonly warmup: number;
}

async function client(job: Job): Promise<void> {
  const agent = new https.Agent({ keepAlive: true, ca: job.caPem });
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const request = https.request(
        {
          host: '127.0.0.1',
          port: job.port,
          path: PATH,
          agent,
          headers: { Authorization: 'Bearer t', Accept: 'application/json' },
        },
        (response) => {
          response.resume();
          response.on('end', resolve);
        },
      );
      request.on('error', reject);
      request.end();
    });
  const run = async (calls: number) => {
    let left = calls;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (left > 0) {
          left -= 1;
          await one();
        }
      }),
    );
  };
  await run(job.warmup);
  parentPort!.postMessage('warm');
  await new Promise((resolve) => parentPort!.once('message', resolve));
  await run(job.calls);
  agent.destroy();
  parentPort!.postMessage('done');
}

/** Starts the listener of `mode`; answers its port and how to close it. */
async function listen(
  mode: Mode,
  tls: { certPem: string; keyPem: string },
  body: Buffer,
): Promise<{ port: number; close: () => Promise<unknown> }> {
  if (mode === 'raw' || mode === 'raw-delayed') {
    const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (request, response) => {
      if (!(request.url ?? '').startsWith('/k8s/')) {
        response.statusCode = 404;
        response.end();
        return;
      }
      const answer = () => {
        response.writeHead(200, { 'content-type': ANSWER_TYPE, 'content-length': body.length });
        response.end(body);
      };
      if (mode === 'raw-delayed') setTimeout(answer, 5);
      else answer();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as { port: number }).port,
      close: () => new Promise((resolve) => server.close(resolve)),
    };
  }
  const { default: Fastify } = await import('fastify');
  const app = Fastify({
    https: { cert: tls.certPem, key: tls.keyPem },
    routerOptions: { maxParamLength: 256 },
  });
  if (mode === 'fastify-hooks') {
    app.addHook('onRequest', (request, _reply, done) => {
      if (Number(request.headers['content-length']) > 3 * 1024 * 1024) return done(new Error('too large'));
      const clusterId = /^\/k8s\/([^/?]+)/.exec(request.url)?.[1];
      if (clusterId === undefined) return done();
      done();
    });
    app.addHook('preValidation', (request, _reply, done) => {
      if (Buffer.isBuffer(request.body) && request.body.length > 3 * 1024 * 1024)
        return done(new Error('too large'));
      done();
    });
  }
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, payload, done) => done(null, payload));
    const handler = async (_request: unknown, reply: FastifyReply) =>
      reply.code(200).header('content-type', ANSWER_TYPE).send(body);
    scope.all('/k8s/:clusterId', handler);
    scope.all('/k8s/:clusterId/*', handler);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as { port: number }).port, close: () => app.close() };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      calls: { type: 'string', default: '5000' },
      warmup: { type: 'string', default: '3000' },
      allocations: { type: 'boolean', default: false },
    },
  });
  const mode = positionals[0] as Mode;
  if (!MODES.includes(mode)) throw new Error(`a mode: ${MODES.join(', ')}`);
  const calls = Number(values.calls);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-kube-listener-'));
  try {
    const tls = loadOrCreateLocalTls(dir, ['127.0.0.1']);
    const body = Buffer.from(`${JSON.stringify({ data: 'x'.repeat(4300) })}\n`);
    const { port, close } = await listen(mode, tls, body);
    // As bench/kube-calls.ts starts its client thread: tsx's loader first.
    const source = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`;
    const job: Job = { port, caPem: tls.caPem, calls, warmup: Number(values.warmup) };
    const worker = new Worker(source, { eval: true, workerData: job });
    await new Promise((resolve) => worker.once('message', resolve));
    const { Session } = await import('node:inspector/promises');
    const session = new Session();
    session.connect();
    if (values.allocations) await startAllocationSampling(session, 1024);
    const before = threadCpuSeconds();
    worker.postMessage('go');
    await new Promise((resolve) => worker.once('message', resolve));
    const cpu = threadCpuSeconds() - before;
    let allocated = '';
    if (values.allocations) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      allocated = `  KiB allocated/call ${(sampledBytes(profile) / 1024 / calls).toFixed(1)}`;
    }
    session.disconnect();
    console.log(
      `${mode.padEnd(14)} µs CPU/call (serving thread) ${((cpu * 1e6) / calls).toFixed(1)}${allocated}`,
    );
    await worker.terminate();
    await close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();
else await client(workerData as Job);
