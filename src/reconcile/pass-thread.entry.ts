/**
 * The reconciler thread's side (see pass-thread.ts): runs the passes it is sent with Kubernetes
 * clients of its own, asking the main thread for every store and provider call.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { clusterTokens } from '../clusters/cluster-tokens.ts';
import { createLogger } from '../logger.ts';
import { compactWhenAsked } from '../memory/heap.ts';
import { nameThisThread } from '../thread-name.ts';
import { KubeClients, MAX_CLIENTS } from './kube/kube-client.ts';
import { LocalKubePort } from './kube/local-kube.ts';
import { Lease, leaseGuarded } from './lease.ts';
import { outbox } from './outbox.ts';
import {
  type FromThread,
  fromThreadError,
  type PassThreadData,
  type ToThread,
  toThreadError,
} from './pass-thread.ts';
import { type PassCall, remoteTarget } from './pass-thread-rpc.ts';
import { servedConnection } from './provider.ts';
import { type ReconcileContext, reconcileCluster } from './reconcile-cluster.ts';

const port = parentPort;
if (port === null) throw new Error('pass-thread.entry.ts runs as the reconciler thread only');
const options = workerData as PassThreadData;
nameThisThread('mks-reconciler');
const connection = servedConnection(
  options.kubePublicUrl,
  clusterTokens(Buffer.from(options.kubeTokenKey)),
  options.caPem,
);
const log = createLogger(options.logLevel as Parameters<typeof createLogger>[0]);
// The clusters this process serves are reached through the main thread in memory, not HTTPS.
const kube = new KubeClients(
  MAX_CLIENTS,
  options.localKube && new LocalKubePort(options.localKube.port, options.localKube.origin),
);
compactWhenAsked('reconciler');

const post = outbox<FromThread>(port);
const leases = new Map<number, Lease>();
const calls = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
let nextCallId = 1;

/** Asks the main thread for `call` on behalf of pass `passId`; answered by a 'reply' message. */
function call(passId: number, passCall: PassCall): Promise<unknown> {
  const callId = nextCallId++;
  return new Promise((resolve, reject) => {
    calls.set(callId, { resolve, reject });
    post({ type: 'call', callId, passId, ...passCall });
  });
}

function runPass(passId: number, clusterId: string, bindings: object): void {
  const lease = new Lease();
  leases.set(passId, lease);
  const send = (passCall: PassCall) => call(passId, passCall);
  const ctx: ReconcileContext = {
    store: remoteTarget('store', send),
    provider: remoteTarget('provider', send),
    connection,
    kube: leaseGuarded(kube, lease),
    log: log.child(bindings),
    ...options.settings,
  };
  void reconcileCluster(ctx, clusterId)
    .then(
      (outcome) => post({ type: 'done', passId, outcome }),
      (error: unknown) => post({ type: 'done', passId, error: toThreadError(error) }),
    )
    .finally(() => leases.delete(passId));
}

port.on('message', (messages: ToThread[]) => {
  for (const message of messages) receive(message);
});

function receive(message: ToThread): void {
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
}
