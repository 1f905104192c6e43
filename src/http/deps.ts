/**
 * What the HTTP API is built from, and what fastify's request and route config carry. Route files
 * import their deps' types from here, never from app.ts (which imports them): each route takes
 * only the deps it uses (`Pick<AppDeps, …>`).
 */
import type { Logger } from 'pino';
import type { Application, AuthStore } from '../auth/auth.store.ts';
import type { AuthContext, Authenticator } from '../auth/authenticator.ts';
import type { KubeProxyObserver } from '../clusters/cluster-rollout.ts';
import type { ClusterToken } from '../clusters/cluster-tokens.ts';
import type { ClusterService } from '../clusters/clusters.service.ts';
import type { Config } from '../config.ts';
import type { ProjectStore } from '../projects/projects.store.ts';
import type { ReadinessCheck } from './health.routes.ts';
import type { Metrics } from './metrics.ts';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  /** Creates the consumer keys requested through `POST /auth/credential`. */
  readonly authStore: AuthStore;
  readonly projects: ProjectStore;
  readonly clusters: ClusterService;
  /** Derives the bearer token of a cluster's Kubernetes API. */
  readonly clusterToken: ClusterToken;
  /** Reads the clusters' kube-proxy objects for the rollout view (absent: not reachable from here). */
  readonly kubeProxyObserver?: KubeProxyObserver;
  /** Bytes a cluster stores, as etcd counts them (`metrics/etcdUsage`); undefined when not stored yet. */
  readonly storedBytes: (clusterId: string) => Promise<number | undefined>;
  /** What `/readyz` checks (absent: nothing, ready once up). */
  readonly readiness?: ReadinessCheck;
  /** `/metrics` and the request counters (absent: no /metrics). */
  readonly metrics?: Metrics;
  /** The CA that signs the clusters' Kubernetes API certificate (written into kubeconfigs). */
  readonly kubeCaPem?: string;
  /** Serve the API over HTTPS with this certificate (`mks serve --tls`). */
  readonly https?: { readonly cert: string; readonly key: string };
}

/** What a route requires: nothing, an application key, or a fully signed request (default). */
export type AuthMode = 'none' | 'application' | 'signed';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
  }
  interface FastifyRequest {
    auth: AuthContext | undefined;
    application: Application | undefined;
    /** The route's URL pattern, set by its admission hook (app.ts) for the request metrics. */
    routeUrl: string | undefined;
  }
}
