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
 *   `Decoded`), and not decoded at all for the writes whose answer is not read;
 * - undici as the transport under client-node's API classes (`httpLibrary`), or, for the clusters
 *   this very process serves, no transport at all: the request goes to the clusters' API in memory
 *   (`LocalKube`, local-kube.ts), answered by the same code as over HTTPS;
 * - the libraries themselves loaded on a client's first call, not with this module: an API process whose
 *   reconciler runs in its own thread (the default) or elsewhere (`mks worker`) loads them only if the
 *   rollout view is asked for (about 70 MiB of RSS and 27 MiB of heap otherwise spent at start,
 *   docs/performance.md "Memory").
 */
import type {
  AppsV1Api,
  CoreV1Api,
  CoreV1Event,
  V1ConfigMap,
  V1DaemonSet,
  V1Node,
  V1Pod,
} from '@kubernetes/client-node';
import type { Dispatcher, Pool as UndiciPool } from 'undici';
import type { LocalKube, LocalKubeAnswer } from './local-kube.ts';

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
  /**
   * Server-side apply of the given fields, with our field manager, taking ownership (force). The
   * answer (the whole object) is checked for success only, not decoded (`jsonAnswers`).
   */
  applyConfigMap(body: V1ConfigMap): Promise<void>;
  readDaemonSet(namespace: string, name: string): Promise<Decoded<V1DaemonSet> | undefined>;
  /**
   * Strategic-merge patch of the pod template's annotations (what `kubectl rollout restart` does);
   * the answer is checked for success only, as the apply's.
   */
  patchDaemonSetTemplateAnnotations(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<void>;
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

/** Keep-alive connections to one origin, verified with one CA (undici's `Pool`, made on the first call). */
interface Pool {
  readonly origin: string;
  readonly caPem: string | undefined;
  dispatcher: UndiciPool | undefined;
  /** Clusters whose client uses this pool. */
  readonly users: Set<string>;
}

function destroyPool(pool: Pool): void {
  // In-flight calls reject (a network error); nothing waits on the closing itself.
  pool.dispatcher?.destroy().catch(() => undefined);
  pool.dispatcher = undefined;
}

export class KubeClients {
  /** Least recently used first. */
  readonly #clients = new Map<string, { key: string; kube: ClusterKube; poolKey: string }>();
  readonly #maxClients: number;
  readonly #local: LocalKube | undefined;

  /**
   * `local`: the clusters' API this process serves, reached in memory; the calls of clusters whose
   * server has its origin go there first (over HTTPS when it declines one).
   */
  constructor(maxClients = MAX_CLIENTS, local?: LocalKube) {
    this.#maxClients = maxClients;
    this.#local = local;
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
      pool = { origin, caPem: connection.caPem, dispatcher: undefined, users: new Set() };
      this.#pools.set(poolKey, pool);
    }
    pool.users.add(clusterId);
    const kube = createClusterKube(
      connection,
      pool,
      this.#local?.origin === origin ? this.#local : undefined,
    );
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
      destroyPool(pool);
      this.#pools.delete(client.poolKey);
    }
  }

  close(): void {
    for (const pool of this.#pools.values()) destroyPool(pool);
    this.#pools.clear();
    this.#clients.clear();
  }
}

type ClientNode = typeof import('@kubernetes/client-node');
/** What this client uses of undici: its `Pool`. */
interface Undici {
  readonly Pool: typeof UndiciPool;
}
/**
 * undici's `Pool` module alone (undici 7's `lib/dispatcher/pool.js`; the package has no `exports`
 * map): its index also loads fetch, WebSocket, caches and mocks, 21 MiB of RSS (5 MiB of heap)
 * against 12 (2) for the pool and its client (docs/performance.md, "Seventh round"). A specifier
 * in a variable: the path has no type declarations of its own; `Undici` types what it gives.
 */
const UNDICI_POOL = 'undici/lib/dispatcher/pool.js';
/**
 * What `loadLibraries` imports (client-node's specifier written there as a literal too, so that
 * scripts/build.js bundles it): the reconciler thread run from the sources loads them before tsx's
 * loader is registered (pass-thread.ts), so that their modules do not each cross its hooks.
 */
export const KUBE_LIBRARIES: readonly string[] = ['@kubernetes/client-node', UNDICI_POOL];
let libraries: Promise<[ClientNode, Undici]> | undefined;
/** @kubernetes/client-node and undici's pool, loaded once, on the first call of any cluster client. */
const loadLibraries = (): Promise<[ClientNode, Undici]> =>
  (libraries ??= Promise.all([
    import('@kubernetes/client-node'),
    import(UNDICI_POOL).then((pool: { default: typeof UndiciPool }) => ({ Pool: pool.default })),
  ]));

interface Apis {
  readonly k8s: ClientNode;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
}

function createClusterKube(
  connection: ClusterConnection,
  pool: Pool,
  local: LocalKube | undefined,
): ClusterKube {
  let apis: Promise<Apis> | undefined;
  const apisOf = (): Promise<Apis> =>
    (apis ??= loadLibraries().then(([k8s, undici]) => {
      // client-node's generated API classes over a configuration of our own rather than a
      // KubeConfig's (`makeApiClient`): a KubeConfig re-derives its TLS options, scans its
      // authenticators and builds an agent on every request, and its transport (node-fetch)
      // wraps node's HTTP client in streams and header objects. Here the token is set as it is,
      // and the request goes to the pool's keep-alive connections through undici, or to this
      // process's own clusters' API in memory (`httpLibrary`); the requests and their
      // serialization stay client-node's (docs/performance.md, "The fleet's change, third round",
      // "Seventh round" and "Eighth round").
      const authorization = `Bearer ${connection.token}`;
      const config = k8s.createConfiguration({
        baseServer: new k8s.ServerConfiguration<{ [key: string]: string }>(connection.server, {}),
        authMethods: {
          default: {
            getName: () => 'mks cluster token',
            applySecurityAuthentication: (context) => {
              context.setHeaderParam('Authorization', authorization);
            },
          },
        },
        httpApi: k8s.wrapHttpLibrary(httpLibrary(k8s, undici, pool, local)),
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
    applyConfigMap: async (body) => {
      await call(`apply configmap ${body.metadata?.namespace}/${body.metadata?.name}`, ({ core, k8s }) =>
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
      );
    },
    readDaemonSet: (namespace, name) =>
      orAbsent(
        call(`read daemonset ${namespace}/${name}`, ({ apps }) =>
          apps.readNamespacedDaemonSet({ namespace, name }),
        ),
      ),
    patchDaemonSetTemplateAnnotations: async (namespace, name, annotations) => {
      await call(`patch daemonset ${namespace}/${name}`, ({ apps, k8s }) =>
        apps.patchNamespacedDaemonSet(
          {
            namespace,
            name,
            body: { spec: { template: { metadata: { annotations } } } },
            fieldManager: FIELD_MANAGER,
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
        ),
      );
    },
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
 * says so in the types). The writes whose answer the reconciler does not read (the apply, the
 * DaemonSet's patch, an Event) are not decoded at all: a 2xx JSON answer is their success. Status
 * codes and errors as client-node's own processors have them: any 2xx answers its body (or
 * nothing), 401 and every other status reject with client-node's `ApiException`.
 */
function jsonAnswers(k8s: ClientNode): {
  core: ConstructorParameters<ClientNode['CoreV1Api']>[2];
  apps: ConstructorParameters<ClientNode['AppsV1Api']>[2];
} {
  const answer = (read: boolean) => async (response: ResponseContext) => {
    const status = response.httpStatusCode;
    if (status >= 200 && status <= 299) {
      const type = response.headers['content-type'];
      if (type === undefined || !JSON_TYPE.test(type)) {
        throw new Error(`the answer is not JSON (Content-Type ${type ?? 'absent'})`);
      }
      const data = read ? (JSON.parse(await response.body.text()) as unknown) : undefined;
      return new k8s.HttpInfo(status, response.headers, response.body, data);
    }
    if (status === 401) throw new k8s.ApiException(status, 'Unauthorized', undefined, response.headers);
    throw new k8s.ApiException(
      status,
      'Unknown API Status Code!',
      await response.getBodyAsAny(),
      response.headers,
    );
  };
  const decode = answer(true);
  const unread = answer(false);
  const core = {
    readNamespacedConfigMapWithHttpInfo: decode,
    patchNamespacedConfigMapWithHttpInfo: unread,
    createNamespacedEventWithHttpInfo: unread,
    listNamespacedPodWithHttpInfo: decode,
    listNodeWithHttpInfo: decode,
    listPodForAllNamespacesWithHttpInfo: decode,
  } satisfies Partial<Record<keyof NonNullable<ConstructorParameters<ClientNode['CoreV1Api']>[2]>, unknown>>;
  const apps = {
    readNamespacedDaemonSetWithHttpInfo: decode,
    patchNamespacedDaemonSetWithHttpInfo: unread,
  } satisfies Partial<Record<keyof NonNullable<ConstructorParameters<ClientNode['AppsV1Api']>[2]>, unknown>>;
  // Only the methods of the calls made here: a call added without its decoder fails its first test.
  return { core: core as never, apps: apps as never };
}

/** application/json and its kin (`application/merge-patch+json`, …), as client-node parses them. */
const JSON_TYPE = /^\s*application\/([^;\s]*\+)?json\s*(;|$)/i;

type RequestContext = import('@kubernetes/client-node').RequestContext;
type ResponseContext = import('@kubernetes/client-node').ResponseContext;

const USER_AGENT = 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)';

/** The pool's undici `Pool`, made on its first call: keep-alive, TLS verified with the pool's CA. */
function dispatcherOf(undici: Undici, pool: Pool): UndiciPool {
  pool.dispatcher ??= new undici.Pool(pool.origin, {
    connections: MAX_SOCKETS_PER_POOL,
    ...(pool.caPem === undefined ? {} : { connect: { ca: pool.caPem } }),
  });
  return pool.dispatcher;
}

/**
 * client-node's transport (its `HttpLibrary` contract): each request to this process's own
 * clusters' API in memory when `local` is given (local-kube.ts: no TLS, HTTP framing or socket;
 * the same request to the same serving code), else, or when `local` declines the cluster, on the
 * pool's keep-alive connections through undici's dispatcher (`undiciSend`). The answer's body is
 * read whole either way. What node-fetch did for client-node here, without its wrappers: no
 * redirect is followed (a Kubernetes API answers none to these calls) and a network error rejects,
 * as node-fetch's did.
 */
function httpLibrary(
  k8s: ClientNode,
  undici: Undici,
  pool: Pool,
  local: LocalKube | undefined,
): { send(request: RequestContext): Promise<ResponseContext> } {
  return {
    send: async (request) => {
      const body = request.getBody();
      if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
        throw new Error('only text and byte bodies are sent');
      }
      const url = request.getUrl();
      const path = pathOf(url, pool.origin);
      if (path === undefined) throw new Error(`${url} is not a URL of ${pool.origin}`);
      const outgoing: Outgoing = {
        method: request.getHttpMethod(),
        path,
        // The agent node-fetch named: a Kubernetes API takes the field manager of a write that
        // names none (mks's Events) from it, so they keep the manager they had.
        headers: { 'user-agent': USER_AGENT, ...request.getHeaders() },
        ...(body === undefined ? {} : { body }),
      };
      const signal = request.getSignal();
      signal?.throwIfAborted();
      const answer =
        (local === undefined ? undefined : await localSend(local, outgoing, pool.origin, signal)) ??
        (await undiciSend(undici, pool, outgoing, signal));
      const answered = answer.body;
      return new k8s.ResponseContext(answer.status, answer.headers as { [name: string]: string }, {
        text: async () => (typeof answered === 'string' ? answered : bytesOf(answered).toString('utf8')),
        binary: async () =>
          typeof answered === 'string' ? Buffer.from(answered, 'utf8') : bytesOf(answered),
      });
    },
  };
}

const bytesOf = (body: Uint8Array): Buffer =>
  Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);

interface Outgoing {
  readonly method: string;
  readonly path: string;
  readonly headers: { readonly [name: string]: string };
  readonly body?: string | Buffer;
}

/**
 * `request` to this process's clusters' API in memory, as the HTTPS client would send it (the
 * `host` header of the origin; the header names in lower case, as undici writes them). Undefined
 * when the serving side declines the cluster.
 */
async function localSend(
  local: LocalKube,
  request: Outgoing,
  origin: string,
  signal: AbortSignal | undefined,
): Promise<LocalKubeAnswer | undefined> {
  const headers: Record<string, string> = { host: new URL(origin).host };
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  const sent = local.send({ ...request, headers });
  if (signal === undefined) return sent;
  return new Promise((resolve, reject) => {
    const aborted = () => reject(signal.reason);
    signal.addEventListener('abort', aborted, { once: true });
    sent.then(resolve, reject).finally(() => signal.removeEventListener('abort', aborted));
  });
}

/** `request` on the pool's keep-alive connections (undici's `dispatch`, no body stream). */
function undiciSend(
  undici: Undici,
  pool: Pool,
  request: Outgoing,
  signal: AbortSignal | undefined,
): Promise<LocalKubeAnswer> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: { [name: string]: string } = {};
    const chunks: Buffer[] = [];
    dispatcherOf(undici, pool).dispatch(
      {
        method: request.method as Dispatcher.HttpMethod,
        path: request.path,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      },
      {
        onRequestStart: (controller) => {
          if (signal === undefined) return;
          if (signal.aborted) controller.abort(signal.reason);
          else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
        },
        onResponseStart: (_controller, statusCode, responseHeaders) => {
          status = statusCode;
          headers = {};
          for (const [name, value] of Object.entries(responseHeaders)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          }
        },
        onResponseData: (_controller, chunk) => {
          chunks.push(chunk);
        },
        onResponseEnd: () => {
          resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
        },
        onResponseError: (_controller, error) => reject(error),
      },
    );
  });
}

/**
 * The path (and query) of `url` on `origin`: the pool's origin is the cluster's server's
 * (`KubeClients.for`), which client-node's URLs start with, unless spelled otherwise (a default port).
 */
function pathOf(url: string, origin: string): string | undefined {
  if (url.startsWith(origin) && url[origin.length] === '/') return url.slice(origin.length);
  const parsed = new URL(url);
  return parsed.origin === origin ? parsed.pathname + parsed.search : undefined;
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
