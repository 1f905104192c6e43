/**
 * The reconciler thread's side (see pass-thread.ts): runs the passes it is sent with Kubernetes
 * clients of its own, asking the main thread for every store and provider call.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { clusterTokens } from '../clusters/cluster-tokens.ts';
import { createLogger } from '../logger.ts';
import { KubeClients } from './kube/kube-client.ts';
import { Lease, leaseGuarded } from './lease.ts';
import {
  type FromThread,
  fromThreadError,
  type PassThreadOptions,
  PROVIDER_CALLS,
  STORE_CALLS,
  type ToThread,
  toThreadError,
} from './pass-thread.ts';
import { type ClusterProvider, servedConnection } from './provider.ts';
import { reconcileCluster } from './reconcile-cluster.ts';
import type { ReconcileStore } from './reconcile-store.ts';

const port = parentPort;
if (port === null) throw new Error('pass-thread.worker.ts runs as a worker thread only');
const options = workerData as PassThreadOptions;
const connection = servedConnection(
  options.kubePublicUrl,
  clusterTokens(Buffer.from(options.kubeTokenKey)),
  options.caPem,
);
const log = createLogger(options.logLevel as Parameters<typeof createLogger>[0]);
const kube = new KubeClients();

const post = (message: FromThread) => port.postMessage(message);
const leases = new Map<number, Lease>();
const calls = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
let nextCallId = 1;

function call(passId: number, target: 'store' | 'provider', method: string, args: unknown[]): Promise<never> {
  const callId = nextCallId++;
  return new Promise((resolve, reject) => {
    calls.set(callId, { resolve: resolve as (value: unknown) => void, reject });
    post({ type: 'call', callId, passId, target, method, args });
  });
}

/** Asks the main thread, by name, for every operation in `names` of `target`. */
function remote<T>(passId: number, target: 'store' | 'provider', names: readonly string[]): T {
  return Object.fromEntries(
    names.map((name) => [name, (...args: unknown[]) => call(passId, target, name, args)]),
  ) as T;
}

function runPass(passId: number, clusterId: string, bindings: object): void {
  const lease = new Lease();
  leases.set(passId, lease);
  const provider: ClusterProvider = {
    ...remote<Omit<ClusterProvider, 'connection'>>(passId, 'provider', PROVIDER_CALLS),
    connection,
  };
  const ctx = {
    store: remote<ReconcileStore>(passId, 'store', STORE_CALLS),
    provider,
    kube: leaseGuarded(kube, lease),
    log: log.child(bindings),
    progressMs: options.progressMs,
  };
  void reconcileCluster(ctx, clusterId)
    .then(
      (outcome) => post({ type: 'done', passId, outcome }),
      (error: unknown) => post({ type: 'done', passId, error: toThreadError(error) }),
    )
    .finally(() => leases.delete(passId));
}

port.on('message', (message: ToThread) => {
  switch (message.type) {
    case 'pass':
      runPass(message.passId, message.clusterId, message.bindings);
      break;
    case 'lost':
      leases.get(message.passId)?.lose();
      break;
    case 'reply': {
      const pending = calls.get(message.callId);
      if (pending === undefined) break;
      calls.delete(message.callId);
      if (message.error !== undefined) pending.reject(fromThreadError(message.error));
      else pending.resolve(message.value);
      break;
    }
  }
});
