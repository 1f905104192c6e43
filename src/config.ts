/**
 * The only reader of environment variables and command-line options. Everything else receives the
 * frozen `Config` it returns. A flag and its environment variable share a name
 * (`--data-dir` ⇔ `MKS_DATA_DIR`); flags win. Every bad value is reported at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Config {
  /** Where the embedded default keeps its SQLite file, secret key and ovh.conf. */
  readonly dataDir: string;
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * The API's public base URL, ending in `/1.0` (what clients are configured with and sign).
   * Defaults to `http://<listen>/1.0`, or `https://<listen>/1.0` with TLS.
   */
  readonly publicUrl: string;
  /**
   * HTTPS for the API listener (the npm OVH clients speak nothing else): a certificate from the
   * local CA in `<dataDir>/tls` (`--tls`), or the operator's own files (`--tls-cert`/`--tls-key`).
   */
  readonly tls: TlsConfig | undefined;
  /** Where the emulated clusters' Kubernetes API listens (HTTPS: kubectl sends tokens only over TLS). */
  readonly kubeListen: { readonly host: string; readonly port: number };
  /** Its public base URL (`https://host:port`), written into kubeconfigs. */
  readonly kubePublicUrl: string;
  /**
   * Scale-out: this process's own Kubernetes API address as other mks processes reach it (they
   * forward the calls for the emulated clusters this process owns). Default: the kube-listen
   * address, with the host name in place of a wildcard address.
   */
  readonly kubeInternalUrl: string;
  /** `postgres://…` for scale-out; otherwise SQLite at `<dataDir>/mks.db`. */
  readonly database:
    | { readonly kind: 'sqlite'; readonly file: string }
    | { readonly kind: 'postgres'; readonly url: string };
  /** Base64 of a 32-byte key encrypting application secrets; default: `<dataDir>/secret.key`. */
  readonly secretKey: string | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Regions offered to `POST /kube`. */
  readonly regions: readonly string[];
  /** How far a request's `X-Ovh-Timestamp` may be from the server clock. */
  readonly timestampWindowSeconds: number;
  /** Largest accepted request body. */
  readonly bodyLimitBytes: number;
  /** Run the reconciler in this process (`serve --no-worker` turns it off). */
  readonly worker: boolean;
  /** Create or upgrade the schema on start (`--no-migrate`: leave it to `mks migrate`). */
  readonly migrate: boolean;
  readonly reconcile: {
    /** Reconcile passes one worker runs at once. */
    readonly concurrency: number;
    /** How often a worker looks for work enqueued by other processes. */
    readonly pollMs: number;
    /** How often a settled cluster is checked again (kube-proxy health). */
    readonly resyncMs: number;
    /** How long a claim stays with a worker that stopped renewing it. */
    readonly leaseMs: number;
    /** How soon a rollout in progress is looked at again. */
    readonly progressMs: number;
    /**
     * Passes run in a thread of their own (their Kubernetes API calls, TLS and JSON), so a worker
     * uses a second core beside the API and the emulated clusters; false runs them on the main thread.
     */
    readonly thread: boolean;
    /**
     * The reconciler calls the clusters this process serves over HTTPS on loopback, as any client,
     * instead of in memory (src/reconcile/kube/local-kube.ts): to measure or rule out the latter.
     */
    readonly https: boolean;
    /**
     * Restore kube-proxy's ConfigMap and DaemonSet when they are edited in the cluster (drift),
     * recording a `drift` history entry and a Kubernetes Event.
     */
    readonly repairDrift: boolean;
    /**
     * A kube-proxy rollout that fails on a node (crash loop, not ready within `nodeReadyTimeoutMs`)
     * rolls the nodes already changed back to the last config healthy everywhere; false stops it
     * at the failing node. Either way the cluster reports ERROR.
     */
    readonly autoRollback: boolean;
    /** How long a restarted kube-proxy pod may take to become ready before its rollout fails. */
    readonly nodeReadyTimeoutMs: number;
    /** How often the cluster autoscaler looks at a cluster with an autoscaled pool. */
    readonly autoscaleMs: number;
  };
  /** How long an emulated kube-proxy pod takes to start, so rollouts are visible. */
  readonly podStartMs: number;
  /** Every cluster's etcd quota in bytes (`metrics/etcdUsage`); 0: OVH's, by node count. */
  readonly etcdQuotaBytes: number;
  /**
   * V8's heap growth factor while the process is quiet, in %, set once the runtime is up
   * (src/memory/heap.ts); 0: V8's own. A factor on node's command line wins.
   */
  readonly heapGrowingPercent: number;
  /** Which emulated clusters stay in memory (the others are in the store, loaded on demand). */
  readonly emulator: {
    /** An emulated cluster idle this long (no call, watch, rollout or pending write) leaves memory. */
    readonly idleMs: number;
    /** Clusters loaded at once, at most: past it, the least recently used idle ones leave first. */
    readonly maxLoaded: number;
  };
  /** The emulated clusters' Kubernetes API limits, as kube-apiserver's flags set them. */
  readonly kubeApi: {
    /** `--min-request-timeout`: a watch without `timeoutSeconds` ends within [this, 2 × this) s. */
    readonly minRequestTimeoutSeconds: number;
    /** Watches one cluster may hold open at once; more answer 429 with Retry-After. */
    readonly maxLongRunningPerCluster: number;
  };
  /** Both listeners: slow or idle clients cannot hold sockets, and their number is bounded. */
  readonly listeners: {
    /** Time to receive a request's headers. */
    readonly headersTimeoutMs: number;
    /** Time to receive a whole request (headers and body; a watch's answer is not bounded). */
    readonly requestTimeoutMs: number;
    /** How long an idle keep-alive connection stays open. */
    readonly keepAliveTimeoutMs: number;
    /** Open connections per listener; more are refused until some close. */
    readonly maxConnections: number;
  };
  /** Requests per second one credential may send to `/1.0` (sustained), and the burst above it. */
  readonly rateLimit: { readonly requestsPerSecond: number; readonly burst: number };
}

export type TlsConfig =
  | { readonly kind: 'local-ca' }
  | { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string };

export const DEFAULT_REGIONS = Object.freeze([
  'GRA5',
  'GRA7',
  'GRA9',
  'GRA11',
  'SBG5',
  'BHS5',
  'DE1',
  'UK1',
  'WAW1',
]);

/** Options as commander hands them over (camelCase of the long flag). */
export interface ConfigOptions {
  dataDir?: string | undefined;
  listen?: string | undefined;
  publicUrl?: string | undefined;
  databaseUrl?: string | undefined;
  logLevel?: string | undefined;
  kubeListen?: string | undefined;
  kubePublicUrl?: string | undefined;
  kubeInternalUrl?: string | undefined;
  /** commander's `--no-worker` gives `worker: false`. */
  worker?: boolean | undefined;
  /** commander's `--no-migrate` gives `migrate: false`. */
  migrate?: boolean | undefined;
  tls?: boolean | undefined;
  /** commander's `--reconciler-https`. */
  reconcilerHttps?: boolean | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function loadConfig(options: ConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const pick = (
    flag: Exclude<keyof ConfigOptions, 'worker' | 'tls' | 'migrate' | 'reconcilerHttps'>,
    variable: string,
  ): string | undefined => {
    const value = options[flag] ?? env[variable];
    return value === undefined || value === '' ? undefined : value;
  };

  const dataDir = path.resolve(pick('dataDir', 'MKS_DATA_DIR') ?? '.mks');

  const listenText = pick('listen', 'MKS_LISTEN') ?? '127.0.0.1:8080';
  const listen = parseListen(listenText);
  if (listen === undefined)
    problems.push(`--listen / MKS_LISTEN: '${listenText}' is not HOST:PORT (e.g. 127.0.0.1:8080)`);

  const tls = tlsConfig(options, env, problems);

  let publicUrl = pick('publicUrl', 'MKS_PUBLIC_URL');
  if (publicUrl === undefined && listen !== undefined) {
    const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
    publicUrl = `${tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${listen.port}/1.0`;
  }
  if (publicUrl !== undefined) {
    publicUrl = publicUrl.replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+\/1\.0$/.test(publicUrl)) {
      problems.push(`--public-url / MKS_PUBLIC_URL: '${publicUrl}' must be http(s)://HOST[:PORT]/1.0`);
    }
  }

  const kubeListenText =
    pick('kubeListen', 'MKS_KUBE_LISTEN') ??
    `${listen === undefined ? '127.0.0.1' : listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen === undefined || listen.port === 0 ? 0 : listen.port === 8080 ? 8443 : listen.port + 1}`;
  const kubeListen = parseListen(kubeListenText);
  if (kubeListen === undefined)
    problems.push(
      `--kube-listen / MKS_KUBE_LISTEN: '${kubeListenText}' is not HOST:PORT (e.g. 127.0.0.1:8443)`,
    );
  let kubePublicUrl = pick('kubePublicUrl', 'MKS_KUBE_PUBLIC_URL');
  if (kubePublicUrl === undefined && kubeListen !== undefined) {
    const host = kubeListen.host === '0.0.0.0' || kubeListen.host === '::' ? '127.0.0.1' : kubeListen.host;
    kubePublicUrl = `https://${host.includes(':') ? `[${host}]` : host}:${kubeListen.port}`;
  }
  let kubeInternalUrl = pick('kubeInternalUrl', 'MKS_KUBE_INTERNAL_URL');
  if (kubeInternalUrl === undefined && kubeListen !== undefined) {
    const host = kubeListen.host === '0.0.0.0' || kubeListen.host === '::' ? os.hostname() : kubeListen.host;
    kubeInternalUrl = `https://${host.includes(':') ? `[${host}]` : host}:${kubeListen.port}`;
  }
  if (kubeInternalUrl !== undefined) {
    kubeInternalUrl = kubeInternalUrl.replace(/\/+$/, '');
    if (!/^https:\/\/[^/]+$/.test(kubeInternalUrl)) {
      problems.push(
        `--kube-internal-url / MKS_KUBE_INTERNAL_URL: '${kubeInternalUrl}' must be https://HOST[:PORT]`,
      );
    }
  }
  if (kubePublicUrl !== undefined) {
    kubePublicUrl = kubePublicUrl.replace(/\/+$/, '');
    if (!/^https:\/\/[^/]+$/.test(kubePublicUrl)) {
      problems.push(
        `--kube-public-url / MKS_KUBE_PUBLIC_URL: '${kubePublicUrl}' must be https://HOST[:PORT]`,
      );
    }
  }

  const databaseUrl = pick('databaseUrl', 'MKS_DATABASE_URL');
  let database: Config['database'] = { kind: 'sqlite', file: path.join(dataDir, 'mks.db') };
  if (databaseUrl !== undefined) {
    if (/^postgres(ql)?:\/\//.test(databaseUrl)) database = { kind: 'postgres', url: databaseUrl };
    else if (databaseUrl.startsWith('sqlite:')) {
      database = {
        kind: 'sqlite',
        file: path.resolve(databaseUrl.slice('sqlite:'.length).replace(/^\/\//, '')),
      };
    } else problems.push('--database-url / MKS_DATABASE_URL: expected postgres://… or sqlite:PATH');
  }

  const secretKey = env.MKS_SECRET_KEY === '' ? undefined : env.MKS_SECRET_KEY;
  if (secretKey !== undefined && Buffer.from(secretKey, 'base64').length !== 32) {
    problems.push('MKS_SECRET_KEY: must be the base64 encoding of exactly 32 bytes');
  }

  const logLevel = pick('logLevel', 'MKS_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`--log-level / MKS_LOG_LEVEL: '${logLevel}' is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const regionsText = env.MKS_REGIONS;
  const regions =
    regionsText === undefined || regionsText === ''
      ? DEFAULT_REGIONS
      : regionsText.split(',').map((region) => region.trim());
  if (regions.some((region) => !/^[A-Z][A-Z0-9-]{1,31}$/.test(region))) {
    problems.push(
      `MKS_REGIONS: '${regionsText}' must be a comma-separated list of region names such as GRA11`,
    );
  }

  const windowText = env.MKS_TIMESTAMP_WINDOW_SECONDS ?? '180';
  const timestampWindowSeconds = Number(windowText);
  if (!Number.isInteger(timestampWindowSeconds) || timestampWindowSeconds < 1) {
    problems.push(`MKS_TIMESTAMP_WINDOW_SECONDS: '${windowText}' must be a positive whole number`);
  }

  const integer = (variable: string, fallback: number, minimum: number): number => {
    const text = env[variable];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < minimum) {
      problems.push(`${variable}: '${text}' must be a whole number of at least ${minimum}`);
      return fallback;
    }
    return value;
  };
  /** A true/false variable: unset or empty is `fallback`. */
  const boolean = (variable: string, fallback: boolean): boolean => {
    const text = env[variable];
    if (text === undefined || text === '') return fallback;
    if (!['true', 'false', '1', '0'].includes(text)) {
      problems.push(`${variable}: '${text}' must be true or false`);
      return fallback;
    }
    return text === 'true' || text === '1';
  };
  const worker = options.worker ?? boolean('MKS_WORKER', true);
  const migrate = options.migrate ?? boolean('MKS_MIGRATE', true);
  const reconcile = Object.freeze({
    concurrency: integer('MKS_WORKER_CONCURRENCY', 64, 1),
    pollMs: integer('MKS_WORKER_POLL_MS', 500, 10),
    resyncMs: integer('MKS_RESYNC_MS', 10_000, 100),
    leaseMs: integer('MKS_LEASE_MS', 15_000, 1_000),
    progressMs: integer('MKS_PROGRESS_MS', 100, 10),
    thread: boolean('MKS_RECONCILER_THREAD', true),
    https: options.reconcilerHttps ?? boolean('MKS_RECONCILER_HTTPS', false),
    repairDrift: boolean('MKS_REPAIR_DRIFT', true),
    autoRollback: boolean('MKS_AUTO_ROLLBACK', true),
    nodeReadyTimeoutMs: integer('MKS_ROLLOUT_NODE_TIMEOUT_MS', 300_000, 1_000),
    autoscaleMs: integer('MKS_AUTOSCALE_INTERVAL_MS', 10_000, 100),
  });
  const podStartMs = integer('MKS_POD_START_MS', 1_000, 0);
  const etcdQuotaBytes = integer('MKS_ETCD_QUOTA_BYTES', 0, 0);
  const heapGrowingPercent = integer('MKS_HEAP_GROWING_PERCENT', 30, 0);
  const emulator = Object.freeze({
    idleMs: integer('MKS_EMULATOR_IDLE_MS', 5_000, 50),
    maxLoaded: integer('MKS_EMULATOR_MAX_LOADED', 256, 1),
  });
  const kubeApi = Object.freeze({
    minRequestTimeoutSeconds: integer('MKS_MIN_REQUEST_TIMEOUT', 1800, 1),
    maxLongRunningPerCluster: integer('MKS_KUBE_MAX_WATCHES', 200, 1),
  });
  const listeners = Object.freeze({
    headersTimeoutMs: integer('MKS_HEADERS_TIMEOUT_MS', 20_000, 100),
    requestTimeoutMs: integer('MKS_REQUEST_TIMEOUT_MS', 60_000, 100),
    // Longer than the idle timeout of clients and load balancers (60 s on common ones): a server
    // closing an idle connection first races a request reusing it (a reset, a 502 at the balancer).
    keepAliveTimeoutMs: integer('MKS_KEEP_ALIVE_TIMEOUT_MS', 65_000, 100),
    maxConnections: integer('MKS_MAX_CONNECTIONS', 10_000, 1),
  });
  // 0 turns the limit off.
  const rateLimit = Object.freeze({
    requestsPerSecond: integer('MKS_RATE_LIMIT_PER_SECOND', 500, 0),
    burst: integer('MKS_RATE_LIMIT_BURST', 5_000, 1),
  });

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    dataDir,
    listen: Object.freeze(listen!),
    publicUrl: publicUrl!,
    tls,
    kubeListen: Object.freeze(kubeListen!),
    kubePublicUrl: kubePublicUrl!,
    kubeInternalUrl: kubeInternalUrl!,
    database: Object.freeze(database),
    secretKey,
    logLevel: logLevel as Config['logLevel'],
    regions: Object.freeze([...regions]),
    timestampWindowSeconds,
    bodyLimitBytes: 64 * 1024,
    worker,
    migrate,
    reconcile,
    podStartMs,
    etcdQuotaBytes,
    heapGrowingPercent,
    emulator,
    kubeApi,
    listeners,
    rateLimit,
  });
}

/**
 * `--tls` (MKS_TLS) alone: a certificate from the local CA. `--tls-cert` and `--tls-key`
 * (MKS_TLS_CERT / MKS_TLS_KEY) together: the operator's own, which implies TLS.
 */
function tlsConfig(
  options: ConfigOptions,
  env: NodeJS.ProcessEnv,
  problems: string[],
): TlsConfig | undefined {
  const text = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);
  const certFile = text(options.tlsCert ?? env.MKS_TLS_CERT);
  const keyFile = text(options.tlsKey ?? env.MKS_TLS_KEY);
  const tlsEnv = env.MKS_TLS;
  if (tlsEnv !== undefined && !['true', 'false', '1', '0', ''].includes(tlsEnv)) {
    problems.push(`MKS_TLS: '${tlsEnv}' must be true or false`);
  }
  const wanted = options.tls ?? (tlsEnv === 'true' || tlsEnv === '1');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    problems.push('--tls-cert / MKS_TLS_CERT and --tls-key / MKS_TLS_KEY: give both or neither');
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined)
    return wanted ? Object.freeze({ kind: 'local-ca' }) : undefined;
  if (options.tls === false || tlsEnv === 'false' || tlsEnv === '0') {
    problems.push('--tls-cert / --tls-key: TLS is turned off (MKS_TLS=false) but a certificate is given');
  }
  const files = { certFile: path.resolve(certFile), keyFile: path.resolve(keyFile) };
  for (const [flag, file] of [
    ['--tls-cert / MKS_TLS_CERT', files.certFile],
    ['--tls-key / MKS_TLS_KEY', files.keyFile],
  ] as const) {
    try {
      fs.accessSync(file, fs.constants.R_OK);
      if (!fs.statSync(file).isFile()) problems.push(`${flag}: '${file}' is not a file`);
    } catch {
      problems.push(`${flag}: '${file}' cannot be read`);
    }
  }
  return Object.freeze({ kind: 'files', ...files });
}

function parseListen(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}
