/**
 * The reconciler's Kubernetes calls, both ends, alone (docs/performance.md, "Sixth round"): one
 * emulated cluster in an mks runtime of this process (SQLite, API, emulator), and a worker thread
 * making calls through `KubeClients` as the reconciler thread does (HTTPS, client-node), some in
 * flight at once. Prints µs of CPU per call by thread: the client thread, the main thread (which
 * serves them), and the rest of the process (V8's helpers, the SQLite checkpointer), and the
 * client thread's minor GCs. Run alone (not in `npm run bench`):
 *
 *   node --import tsx bench/kube-calls.ts [--calls 4000] [--warmup 2000] [--in-flight 4] [--only get-ds,list-pods,…]
 *     (besides the reconciler's calls: bare-get-ds and undici-get-ds, the same GET through node's
 *     https.request or undici's Pool alone, to see what client-node adds)
 *     [--transport https|local]  (local: the calls go to the clusters' API in memory through a
 *                        MessagePort, as the reconciler thread's do when this process serves the
 *                        cluster, src/reconcile/kube/local-kube.ts; https: over loopback TLS)
 *     [--profile DIR]   (V8 CPU profiles of the measured calls: DIR/<call>.client|main.cpuprofile;
 *                        profiling costs CPU: take the figures from a run without it)
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  parentPort,
  Worker,
  workerData,
} from 'node:worker_threads';
import { THREAD_YOUNG_GENERATION_MB } from '../src/reconcile/pass-thread.ts';
import { sampledBytes, startAllocationSampling } from './lib/allocations.ts';
import { threadCpuSeconds } from './lib/thread-cpu.ts';

const CALLS = ['get-ds', 'list-pods', 'get-cm', 'apply-cm', 'post-event'] as const;
/** Not the reconciler's: the GET DaemonSet through node's HTTPS client alone. */
const BARE = 'bare-get-ds';
/** Not the reconciler's: the GET DaemonSet through undici's Pool alone (what client-node adds is the difference). */
const BARE_UNDICI = 'undici-get-ds';
type Call = (typeof CALLS)[number] | typeof BARE | typeof BARE_UNDICI;

interface Job {
  readonly connection: { server: string; token: string; caPem?: string };
  readonly clusterId: string;
  readonly call: Call;
  readonly calls: number;
  readonly inFlight: number;
  readonly warmup: number;
  /** What to record of the measured calls, and where to write the client thread's profile. */
  readonly record: { kind: 'cpu' | 'allocations'; file: string } | undefined;
  /** The in-memory channel to the clusters' API (`--transport local`), else HTTPS. */
  readonly local: MessagePort | undefined;
}

/**
 * Starts recording this thread: a V8 CPU profile (`cpu`) or a sample of what it allocates, the
 * objects collected since included (`allocations`). The function returned stops it, writes the
 * profile to `file` and answers the bytes allocated (sampled; 0 for a CPU profile).
 */
async function record(kind: 'cpu' | 'allocations'): Promise<(file: string) => Promise<number>> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  if (kind === 'cpu') {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  } else {
    await startAllocationSampling(session, 1024);
  }
  return async (file) => {
    let bytes = 0;
    if (kind === 'cpu') {
      const { profile } = await session.post('Profiler.stop');
      fs.writeFileSync(file, JSON.stringify(profile));
    } else {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      bytes = sampledBytes(profile);
      fs.writeFileSync(file, JSON.stringify(profile));
    }
    session.disconnect();
    return bytes;
  };
}

interface Result {
  readonly cpu: number;
  readonly gcs: number;
  readonly ms: number;
  /** Bytes allocated (sampled), when recorded. */
  readonly allocated: number;
}

async function client(job: Job): Promise<Result> {
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  const { KubeClients } = await import('../src/reconcile/kube/kube-client.ts');
  const { LocalKubePort } = await import('../src/reconcile/kube/local-kube.ts');
  const { MAX_CLIENTS } = await import('../src/reconcile/kube/kube-client.ts');
  const clients = new KubeClients(
    MAX_CLIENTS,
    job.local === undefined ? undefined : new LocalKubePort(job.local, new URL(job.connection.server).origin),
  );
  let events = 0;
  const kube = clients.for(job.clusterId, job.connection);
  const { default: https } = await import('node:https');
  const agent = new https.Agent({ keepAlive: true, ca: job.connection.caPem });
  const { Pool } = await import('undici');
  const server = new URL(job.connection.server);
  const pool = new Pool(server.origin, { connect: { ca: job.connection.caPem } });
  const headers = { authorization: `Bearer ${job.connection.token}`, accept: 'application/json' };
  const one: () => Promise<unknown> = {
    [BARE]: () =>
      new Promise((resolve, reject) => {
        const request = https.request(
          `${job.connection.server}/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy`,
          { agent, headers: { Authorization: `Bearer ${job.connection.token}`, Accept: 'application/json' } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          },
        );
        request.on('error', reject);
        request.end();
      }),
    [BARE_UNDICI]: async () => {
      const path = `${server.pathname.replace(/\/$/, '')}/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy`;
      const { body } = await pool.request({ method: 'GET', path, headers });
      return JSON.parse(await body.text());
    },
    'get-ds': () => kube.readDaemonSet('kube-system', 'kube-proxy'),
    'list-pods': () => kube.listPods('kube-system', 'component=kube-apiserver'),
    'get-cm': () => kube.readConfigMap('kube-system', 'kube-proxy'),
    'apply-cm': async () => {
      const cm = await kube.readConfigMap('kube-system', 'kube-proxy');
      return kube.applyConfigMap({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-proxy', namespace: 'kube-system' },
        data: { 'config.conf': cm?.data?.['config.conf'] ?? '' },
      });
    },
    'post-event': () => {
      events += 1;
      return kube.createEvent('kube-system', {
        metadata: { name: `kube-proxy.bench-${events}`, namespace: 'kube-system' },
        involvedObject: {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          namespace: 'kube-system',
          name: 'kube-proxy',
        },
        reason: 'Bench',
        message: 'a call of bench/kube-calls.ts',
        type: 'Normal',
        source: { component: 'mks' },
        count: 1,
      });
    },
  }[job.call];
  const run = async (calls: number) => {
    let left = calls;
    await Promise.all(
      Array.from({ length: job.inFlight }, async () => {
        while (left > 0) {
          left -= 1;
          await one();
        }
      }),
    );
  };
  await run(job.warmup); // connections, and the JIT's work on both sides (else counted in `rest`)
  // The main thread takes its snapshot now, and says go.
  await new Promise<void>((resolve) => {
    parentPort!.once('message', () => resolve());
    parentPort!.postMessage('warm');
  });
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR)
        gcs += 1;
  });
  observer.observe({ entryTypes: ['gc'] });
  const stop = job.record === undefined ? undefined : await record(job.record.kind);
  const before = threadCpuSeconds('thread-self');
  const start = performance.now();
  await run(job.calls);
  const ms = performance.now() - start;
  const cpu = threadCpuSeconds('thread-self') - before;
  const allocated = job.record === undefined ? 0 : await stop!(job.record.file);
  observer.disconnect();
  clients.close();
  agent.destroy();
  await pool.close();
  return { cpu, gcs, ms, allocated };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '4000' },
      'in-flight': { type: 'string', default: '4' },
      warmup: { type: 'string', default: '2000' },
      only: { type: 'string', default: CALLS.join(',') },
      profile: { type: 'string' },
      allocations: { type: 'string' },
      transport: { type: 'string', default: 'https' },
    },
  });
  const calls = Number(values.calls);
  const inFlight = Number(values['in-flight']);
  const only = values.only.split(',') as Call[];
  const { startLocalRuntime } = await import('../test/support/server.ts');
  const { servedConnection } = await import('../src/reconcile/provider.ts');
  const { createLogger } = await import('../src/logger.ts');
  const { untilClusterStatus } = await import('../test/support/cluster-status.ts');
  const { GUIDE_CREATE } = await import('../test/support/fixtures.ts');
  const { ApiClient } = await import('../src/client/api-client.ts');
  const local = await startLocalRuntime({
    databaseUrl: undefined,
    logLevel: 'silent',
    env: { MKS_POD_START_MS: '0', MKS_RESYNC_MS: '3600000' },
    logger: createLogger('silent'),
  });
  try {
    const api = new ApiClient(local.credentials);
    const kubePath = `/cloud/project/${local.runtime.first.projectId}/kube`;
    const { id } = await api.call<{ id: string }>('POST', kubePath, GUIDE_CREATE);
    await untilClusterStatus(api, kubePath, id, 'READY', 60_000);
    const { services } = local.runtime;
    const { config } = local;
    const connect = servedConnection(
      config.kubePublicUrl,
      services.clusterToken,
      fs.readFileSync(local.runtime.kubeCaFile, 'utf8'),
    );
    const connection = connect({ id, tokenEpoch: 0 });
    const pid = process.pid;
    const { dispatchInto, serveLocalKube } = await import('../src/reconcile/kube/local-kube.ts');
    const serve = dispatchInto(local.runtime.kubeApp);
    console.log(`transport ${values.transport}`);
    console.log(`load average ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    const kind =
      values.profile !== undefined ? 'cpu' : values.allocations !== undefined ? 'allocations' : undefined;
    const dir = values.profile ?? values.allocations;
    if (dir !== undefined) fs.mkdirSync(dir, { recursive: true });
    const suffix = kind === 'cpu' ? 'cpuprofile' : 'heapprofile';
    console.log(
      'call          calls  µs CPU/call: client    main    rest  client minor GCs/1000     ms' +
        (kind === 'allocations' ? '  KiB allocated/call: client    main' : ''),
    );
    for (const call of only) {
      const channel = values.transport === 'local' ? new MessageChannel() : undefined;
      if (channel !== undefined) serveLocalKube(channel.port1, serve);
      const job: Job = {
        local: channel?.port2,
        connection,
        clusterId: id,
        call,
        calls,
        inFlight,
        warmup: Number(values.warmup),
        record: kind === undefined ? undefined : { kind, file: `${dir}/${call}.client.${suffix}` },
      };
      // As the reconciler thread is started from the sources (pass-thread.ts): tsx's loader first.
      const source = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`;
      const worker = new Worker(source, {
        eval: true,
        workerData: job,
        transferList: channel === undefined ? [] : [channel.port2],
        resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB },
      });
      worker.on('error', (error) => {
        console.error(error);
        process.exitCode = 1;
      });
      await new Promise((resolve) => worker.once('message', resolve));
      const stop = kind === undefined ? undefined : await record(kind);
      const mainBefore = threadCpuSeconds(pid);
      const processBefore = process.cpuUsage();
      worker.postMessage('go');
      const result = await new Promise<Result>((resolve) => worker.once('message', resolve));
      const mainCpu = threadCpuSeconds(pid) - mainBefore;
      const usage = process.cpuUsage(processBefore);
      const mainAllocated = stop === undefined ? 0 : await stop(`${dir}/${call}.main.${suffix}`);
      await worker.terminate();
      const processCpu = (usage.user + usage.system) / 1e6;
      const per = (seconds: number, width: number) => ((seconds * 1e6) / calls).toFixed(0).padStart(width);
      const kib = (bytes: number, width: number) => (bytes / 1024 / calls).toFixed(1).padStart(width);
      console.log(
        `${call.padEnd(11)} ${String(calls).padStart(7)}  ${per(result.cpu, 18)}  ${per(mainCpu, 6)}  ${per(processCpu - mainCpu - result.cpu, 6)}  ${((result.gcs * 1000) / calls).toFixed(1).padStart(21)}  ${result.ms.toFixed(0).padStart(5)}` +
          (kind === 'allocations' ? `  ${kib(result.allocated, 26)}  ${kib(mainAllocated, 6)}` : ''),
      );
    }
  } finally {
    await local.close();
  }
}

if (isMainThread) await main();
else parentPort!.postMessage(await client(workerData as Job));
