/**
 * Wires the store and the services together once; `serve` and the admin commands share it.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { AuthStore } from './auth/auth.store.ts';
import { Authenticator } from './auth/authenticator.ts';
import { createSecretBox, loadSecretKey, type SecretBox } from './auth/secret-box.ts';
import { type ClusterToken, clusterTokens, kubeTokenKeyOf } from './clusters/cluster-tokens.ts';
import { WorkSignal } from './clusters/cluster-work.ts';
import { ClusterService } from './clusters/clusters.service.ts';
import { type ClusterStore, openClusterStore } from './clusters/clusters.store.ts';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/database.ts';
import { ProjectStore } from './projects/projects.store.ts';

export interface Services {
  readonly config: Config;
  readonly database: Database;
  readonly authStore: AuthStore;
  readonly authenticator: Authenticator;
  readonly projects: ProjectStore;
  readonly clusterStore: ClusterStore;
  /** Wakes this process's reconcile workers when the cluster store enqueues work. */
  readonly workSignal: WorkSignal;
  readonly clusters: ClusterService;
  readonly clusterToken: ClusterToken;
  /** What clusterToken derives tokens from (a secret: for the reconciler thread, never logged). */
  readonly kubeTokenKey: Buffer;
  /** Authenticates calls between mks processes (scale-out), derived from the installation key. */
  readonly internalToken: string;
  /** Seals secrets at rest with the installation key. */
  readonly secretBox: SecretBox;
  close(): Promise<void>;
}

export async function openServices(
  config: Config,
  _logger: Logger,
  options: { migrate?: boolean } = {},
): Promise<Services> {
  const key = loadSecretKey(config.secretKey, config.dataDir);
  const database = await openDatabase(config.database, options);
  const secretBox = createSecretBox(key);
  const authStore = new AuthStore(database, secretBox);
  const workSignal = new WorkSignal();
  const clusterStore = openClusterStore(database, workSignal);
  const kubeTokenKey = kubeTokenKeyOf(key);
  return {
    config,
    database,
    authStore,
    authenticator: new Authenticator(authStore, {
      publicUrl: config.publicUrl,
      timestampWindowSeconds: config.timestampWindowSeconds,
    }),
    projects: new ProjectStore(database),
    clusterStore,
    workSignal,
    clusters: new ClusterService(clusterStore, { regions: config.regions }),
    clusterToken: clusterTokens(kubeTokenKey),
    kubeTokenKey,
    internalToken: `mks-internal.${crypto.createHmac('sha256', key).update('mks internal calls').digest('base64url')}`,
    secretBox,
    close: () => database.close(),
  };
}
