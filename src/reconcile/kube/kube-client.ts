/**
 * The only user of @kubernetes/client-node (1.4.x: 2.x crashes on Node 20). A narrow interface
 * over the calls the reconciler makes, with:
 * - keep-alive connections shared by every cluster served from the same origin with the same CA
 *   (no TLS handshake per cluster: emulated clusters all live on one server, where one pool serves
 *   the whole fleet);
 * - a bound on concurrent calls per cluster;
 * - a bound on the clients kept (the most recently used ones), so a worker's memory follows the
 *   clusters it works on, not the fleet;
 * - Kubernetes errors translated once into the reconciler's outcomes;
 * - answers parsed as JSON, not converted into client-node's model classes (`jsonAnswers`,
 *   `Decoded`);
 * - the library itself loaded on a client's first call, not with this module: an API process whose
 *   reconciler runs in its own thread (the default) or elsewhere (`mks worker`) loads it only if the
 *   rollout view is asked for (about 70 MiB of RSS and 27 MiB of heap otherwise spent at start,
 *   docs/performance.md "Memory").
 */
import http from 'node:http';
import https from 'node:https';
import type {
  AppsV1Api,
  CoreV1Api,
  CoreV1Event,
  V1ConfigMap,
  V1DaemonSet,
  V1Node,
  V1Pod,
} from '@kubernetes/client-node';

export const FIELD_MANAGER = 'mks';

/**
 * An object as a Kubernetes API's JSON answer decodes: client-node's model type, whose time stamps
 * are the RFC 3339 text of the wire (the answers are parsed as JSON, not converted into client-node's
 * model classes, which turn them into Dates: `jsonAnswers`). A model built in code, with Dates, is
 * one too.
 */
export type Decoded<T> = T extends Date
  ? Date | string
  : T extends readonly (infer U)[]
    ? Decoded<U>[]
    : T extends object
      ? { [K in keyof T]: Decoded<T[K]> }
      : T;

/** How the reconciler must treat a failed call. */
export type KubeErrorKind = 'absent' | 'conflict' | 'terminal' | 'transient';

export class KubeError extends Error {
  readonly kind: KubeErrorKind;
  readonly status: number | undefined;
  constructor(kind: KubeErrorKind, message: string, status: number | undefined, cause: unknown) {
    super(message, { cause });
    this.name = 'KubeError';
    this.kind = kind;
    this.status = status;
  }
}

/** 404 absent, 409 retry, 401/403 terminal, 5xx and network transient (STYLE.md). */
export function translateKubeError(error: unknown, what: string): KubeError {
  if (error instanceof KubeError) return error;
  const status =
    typeof (error as { code?: unknown })?.code === 'number' ? (error as { code: number }).code : undefined;
  const body = (error as { body?: unknown })?.body;
  let reason = error instanceof Error ? error.message : String(error);
  if (typeof body === 'string') {
    try {
      reason = (JSON.parse(body) as { message?: string }).message ?? reason;
    } catch {
      // keep the client's message
    }
  }
  const message = `${what}: ${status === undefined ? '' : `HTTP ${status}: `}${reason}`;
  if (status === 404) return new KubeError('absent', message, status, error);
  if (status === 409) return new KubeError('conflict', message, status, error);
  if (status === 401 || status === 403 || status === 400 || status === 422) {
    return new KubeError('terminal', message, status, error);
  }
  return new KubeError('transient', message, status, error);
}

export interface ClusterConnection {
  readonly server: string;
  readonly token: string;
  /** The CA to verify the server with (PEM); the system's when absent. */
  readonly caPem?: string;
}

export interface ClusterKube {
  readConfigMap(namespace: string, name: string): Promise<Decoded<V1ConfigMap> | undefined>;
  /** Server-side apply of the given fields, with our field manager, taking ownership (force). */
  applyConfigMap(body: V1ConfigMap): Promise<Decoded<V1ConfigMap>>;
  readDaemonSet(namespace: string, name: string): Promise<Decoded<V1DaemonSet> | undefined>;
  /** Strategic-merge patch of the pod template's annotations (what `kubectl rollout restart` does). */
  patchDaemonSetTemplateAnnotations(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<Decoded<V1DaemonSet>>;
  /** Pods of the namespace, all of them when `labelSelector` is undefined. */
  listPods(namespace: string, labelSelector: string | undefined): Promise<Decoded<V1Pod>[]>;
  listNodes(): Promise<Decoded<V1Node>[]>;
  /** Every pod of the cluster (the autoscaler weighs them against the nodes). */
  listAllPods(): Promise<Decoded<V1Pod>[]>;
  /** Records a Kubernetes Event (what `kubectl get events` lists). */
  createEvent(namespace: string, event: CoreV1Event): Promise<void>;
}

const MAX_CONCURRENT_CALLS_PER_CLUSTER = 4;
/** Connections of one shared pool (one origin and CA): the worker's passes in flight need no more. */
const MAX_SOCKETS_PER_POOL = 128;
/**
 * Cluster clients kept, the most recently used: several times the passes a worker runs at once
 * (MKS_WORKER_CONCURRENCY, 64 by default), so a pass in flight keeps its client. A client is a
 * KubeConfig and two API objects (docs/performance.md, "Memory").
 */
export const MAX_CLIENTS = 512;

interface Pool {
  readonly agent: http.Agent;
  /** Clusters whose client uses this pool. */
  readonly users: Set<string>;
}

export class KubeClients {
  /** Least recently used first. */
  readonly #clients = new Map<string, { key: string; kube: ClusterKube; poolKey: string }>();
  readonly #maxClients: number;

  constructor(maxClients = MAX_CLIENTS) {
    this.#maxClients = maxClients;
  }
  /** Keep-alive pools by origin and CA. */
  readonly #pools = new Map<string, Pool>();

  /** The client of one cluster, reused while its connection details stay the same. */
  for(clusterId: string, connection: ClusterConnection): ClusterKube {
    const key = `${connection.server}\n${connection.token}\n${connection.caPem ?? ''}`;
    const cached = this.#clients.get(clusterId);
    if (cached !== undefined && cached.key === key) {
      this.#clients.delete(clusterId);
      this.#clients.set(clusterId, cached);
      return cached.kube;
    }
    if (cached !== undefined) this.forget(clusterId);
    const origin = new URL(connection.server).origin;
    const poolKey = `${origin}\n${connection.caPem ?? ''}`;
    let pool = this.#pools.get(poolKey);
    if (pool === undefined) {
      const agent = origin.startsWith('https:')
        ? new https.Agent({
            keepAlive: true,
            maxSockets: MAX_SOCKETS_PER_POOL,
            ...(connection.caPem === undefined ? {} : { ca: connection.caPem }),
          })
        : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_POOL });
      pool = { agent, users: new Set() };
      this.#pools.set(poolKey, pool);
    }
    pool.users.add(clusterId);
    const kube = createClusterKube(connection, pool.agent);
    this.#clients.set(clusterId, { key, kube, poolKey });
    if (this.#clients.size > this.#maxClients) this.forget(this.#clients.keys().next().value!);
    return kube;
  }

  /** How many cluster clients are kept (for the tests). */
  get size(): number {
    return this.#clients.size;
  }

  forget(clusterId: string): void {
    const client = this.#clients.get(clusterId);
    if (client === undefined) return;
    this.#clients.delete(clusterId);
    const pool = this.#pools.get(client.poolKey);
    if (pool === undefined) return;
    pool.users.delete(clusterId);
    if (pool.users.size === 0) {
      pool.agent.destroy();
      this.#pools.delete(client.poolKey);
    }
  }

  close(): void {
    for (const { agent } of this.#pools.values()) agent.destroy();
    this.#pools.clear();
    this.#clients.clear();
  }
}

type ClientNode = typeof import('@kubernetes/client-node');
let clientNode: Promise<ClientNode> | undefined;
/** @kubernetes/client-node, loaded once, on the first call of any cluster client. */
const loadClientNode = (): Promise<ClientNode> => (clientNode ??= import('@kubernetes/client-node'));

interface Apis {
  readonly k8s: ClientNode;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
}

function createClusterKube(connection: ClusterConnection, agent: http.Agent): ClusterKube {
  let apis: Promise<Apis> | undefined;
  const apisOf = (): Promise<Apis> =>
    (apis ??= loadClientNode().then((k8s) => {
      // client-node's generated API classes over a configuration of our own rather than a
      // KubeConfig's (`makeApiClient`): a KubeConfig re-derives its TLS options, scans its
      // authenticators and builds an agent on every request, and its transport (node-fetch)
      // wraps node's HTTP client in streams and header objects. Here the token and the pool's
      // keep-alive agent are set as they are, and the request goes through node's HTTP client
      // directly (`nodeHttpLibrary`); the requests, their serialization and the answers' parsing
      // stay client-node's (docs/performance.md, "The fleet's change, third round").
      const authorization = `Bearer ${connection.token}`;
      const config = k8s.createConfiguration({
        baseServer: new k8s.ServerConfiguration<{ [key: string]: string }>(connection.server, {}),
        authMethods: {
          default: {
            getName: () => 'mks cluster token',
            applySecurityAuthentication: (context) => {
              context.setHeaderParam('Authorization', authorization);
              context.setAgent(agent);
            },
          },
        },
        httpApi: k8s.wrapHttpLibrary(nodeHttpLibrary(k8s, agent)),
      });
      const answers = jsonAnswers(k8s);
      return {
        k8s,
        core: new k8s.CoreV1Api(config, undefined, answers.core),
        apps: new k8s.AppsV1Api(config, undefined, answers.apps),
      };
    }));
  const limit = semaphore(MAX_CONCURRENT_CALLS_PER_CLUSTER);

  /** `run`'s answer as `jsonAnswers` decoded it (client-node's API classes type it as their model). */
  const call = async <T>(what: string, run: (apis: Apis) => Promise<T>): Promise<Decoded<T>> => {
    const release = await limit();
    try {
      return (await run(await apisOf())) as Decoded<T>;
    } catch (error) {
      throw translateKubeError(error, what);
    } finally {
      release();
    }
  };
  const orAbsent = async <T>(promise: Promise<T>): Promise<T | undefined> => {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof KubeError && error.kind === 'absent') return undefined;
      throw error;
    }
  };

  return {
    readConfigMap: (namespace, name) =>
      orAbsent(
        call(`read configmap ${namespace}/${name}`, ({ core }) =>
          core.readNamespacedConfigMap({ namespace, name }),
        ),
      ),
    applyConfigMap: (body) =>
      call(`apply configmap ${body.metadata?.namespace}/${body.metadata?.name}`, ({ core, k8s }) =>
        core.patchNamespacedConfigMap(
          {
            namespace: body.metadata!.namespace!,
            name: body.metadata!.name!,
            body,
            fieldManager: FIELD_MANAGER,
            force: true,
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
        ),
      ),
    readDaemonSet: (namespace, name) =>
      orAbsent(
        call(`read daemonset ${namespace}/${name}`, ({ apps }) =>
          apps.readNamespacedDaemonSet({ namespace, name }),
        ),
      ),
    patchDaemonSetTemplateAnnotations: (namespace, name, annotations) =>
      call(`patch daemonset ${namespace}/${name}`, ({ apps, k8s }) =>
        apps.patchNamespacedDaemonSet(
          {
            namespace,
            name,
            body: { spec: { template: { metadata: { annotations } } } },
            fieldManager: FIELD_MANAGER,
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
        ),
      ),
    createEvent: async (namespace, event) => {
      await call(`create event ${namespace}`, ({ core }) =>
        core.createNamespacedEvent({ namespace, body: event }),
      );
    },
    listPods: async (namespace, labelSelector) =>
      (
        await call(`list pods ${namespace}`, ({ core }) =>
          core.listNamespacedPod({ namespace, labelSelector }),
        )
      ).items,
    listNodes: async () => (await call('list nodes', ({ core }) => core.listNode())).items,
    listAllPods: async () => (await call('list pods', ({ core }) => core.listPodForAllNamespaces())).items,
  };
}

/**
 * How client-node's API classes decode the answers to the calls above (their `ResponseProcessor`,
 * one method per call): the body parsed as JSON, left as the plain data it is, instead of
 * client-node's `ObjectSerializer`, which walks every field of the answer (managed fields included)
 * against its models' type maps to build model objects and turn time stamps into Dates (`Decoded`
 * says so in the types). Status codes and errors as client-node's own processors have them: any
 * 2xx answers its body, 401 and every other status reject with client-node's `ApiException`.
 */
function jsonAnswers(k8s: ClientNode): {
  core: ConstructorParameters<ClientNode['CoreV1Api']>[2];
  apps: ConstructorParameters<ClientNode['AppsV1Api']>[2];
} {
  const decode = async (response: ResponseContext) => {
    const status = response.httpStatusCode;
    if (status >= 200 && status <= 299) {
      const type = response.headers['content-type'];
      const text = await response.body.text();
      if (type === undefined || !JSON_TYPE.test(type)) {
        throw new Error(`the answer is not JSON (Content-Type ${type ?? 'absent'})`);
      }
      return new k8s.HttpInfo(status, response.headers, response.body, JSON.parse(text) as unknown);
    }
    if (status === 401) throw new k8s.ApiException(status, 'Unauthorized', undefined, response.headers);
    throw new k8s.ApiException(
      status,
      'Unknown API Status Code!',
      await response.getBodyAsAny(),
      response.headers,
    );
  };
  const core = {
    readNamespacedConfigMapWithHttpInfo: decode,
    patchNamespacedConfigMapWithHttpInfo: decode,
    createNamespacedEventWithHttpInfo: decode,
    listNamespacedPodWithHttpInfo: decode,
    listNodeWithHttpInfo: decode,
    listPodForAllNamespacesWithHttpInfo: decode,
  } satisfies Partial<Record<keyof NonNullable<ConstructorParameters<ClientNode['CoreV1Api']>[2]>, unknown>>;
  const apps = {
    readNamespacedDaemonSetWithHttpInfo: decode,
    patchNamespacedDaemonSetWithHttpInfo: decode,
  } satisfies Partial<Record<keyof NonNullable<ConstructorParameters<ClientNode['AppsV1Api']>[2]>, unknown>>;
  // Only the methods of the calls made here: a call added without its decoder fails its first test.
  return { core: core as never, apps: apps as never };
}

/** application/json and its kin (`application/merge-patch+json`, …), as client-node parses them. */
const JSON_TYPE = /^\s*application\/([^;\s]*\+)?json\s*(;|$)/i;

type RequestContext = import('@kubernetes/client-node').RequestContext;
type ResponseContext = import('@kubernetes/client-node').ResponseContext;

const USER_AGENT = 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)';

/**
 * client-node's transport (its `HttpLibrary` contract) on node's HTTP client: one request on the
 * given keep-alive agent, the answer's body read whole. What node-fetch did for client-node here,
 * without its stream and header wrappers: no redirect is followed (a Kubernetes API answers none
 * to these calls) and a network error rejects, as node-fetch's did.
 */
function nodeHttpLibrary(
  k8s: ClientNode,
  agent: http.Agent,
): { send(request: RequestContext): Promise<ResponseContext> } {
  return {
    send: (request) =>
      new Promise<ResponseContext>((resolve, reject) => {
        const body = request.getBody();
        if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
          reject(new Error('only text and byte bodies are sent'));
          return;
        }
        const url = request.getUrl();
        const signal = request.getSignal();
        const options: https.RequestOptions = {
          method: request.getHttpMethod(),
          // The agent node-fetch named: a Kubernetes API takes the field manager of a write that
          // names none (mks's Events) from it, so they keep the manager they had.
          headers: { 'User-Agent': USER_AGENT, ...request.getHeaders() },
          agent: request.getAgent() ?? agent,
          ...(signal === undefined ? {} : { signal }),
        };
        const onResponse = (response: http.IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
            const headers: { [name: string]: string } = {};
            for (const [name, value] of Object.entries(response.headers)) {
              if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            resolve(
              new k8s.ResponseContext(response.statusCode ?? 0, headers, {
                text: async () => bytes.toString('utf8'),
                binary: async () => bytes,
              }),
            );
          });
        };
        const outgoing = url.startsWith('https:')
          ? https.request(url, options, onResponse)
          : http.request(url, options, onResponse);
        outgoing.on('error', reject);
        outgoing.end(body);
      }),
  };
}

function semaphore(size: number): () => Promise<() => void> {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else active -= 1;
  };
  return () =>
    new Promise((resolve) => {
      if (active < size) {
        active += 1;
        resolve(release);
      } else waiting.push(() => resolve(release));
    });
}
