/**
 * Table types for Kysely. Both engines store the same shapes: text ids, ISO-8601 text timestamps,
 * JSON as text. Keeping one representation means one store code path for SQLite and PostgreSQL.
 */
import type { Generated } from 'kysely';

export interface AccountTable {
  id: string;
  email: string | null;
  created_at: string;
  /** scrypt hash of the console password (auth/passwords.ts); null until one is set. */
  password_hash: string | null;
}

export interface ProjectTable {
  id: string;
  account_id: string;
  name: string;
  description: string;
  created_at: string;
}

export interface ApplicationTable {
  id: Generated<number>;
  account_id: string;
  app_key: string;
  /** AES-256-GCM ciphertext of the application secret (see auth/secret-box.ts). */
  secret_enc: string;
  name: string;
  description: string;
  created_at: string;
}

export interface CredentialTable {
  id: Generated<number>;
  application_id: number;
  /** Null while the credential waits for validation. */
  account_id: string | null;
  /** SHA-256 (hex) of the consumer key: the key itself is never stored. */
  ck_hash: string;
  status: 'pendingValidation' | 'validated' | 'refused' | 'expired';
  /** JSON array of `{method, path}` access rules. */
  rules: string;
  redirection: string | null;
  /** SHA-256 (hex) of the validation token, while pending. */
  validation_token_hash: string | null;
  created_at: string;
  expires_at: string | null;
  last_use: string | null;
  /** JSON array of the IP blocks the key may be used from; null: anywhere. */
  allowed_ips: string | null;
  /** How the key was made (`CredentialOrigin`); null for keys older than the console. */
  origin: string | null;
}

export interface ClusterTable {
  id: string;
  project_id: string;
  name: string;
  region: string;
  version: string;
  update_policy: string;
  kube_proxy_mode: 'iptables' | 'ipvs';
  /** JSON of the customization exactly as the user set it. */
  customization: string;
  /** Total nodes of the cluster's pools (kept for readers of the table). */
  node_count: number;
  /** JSON of the cluster's node pools and their nodes (clusters/nodepools.model.ts). */
  node_pools: string;
  /** JSON array of the canonical CIDR blocks allowed on the cluster's Kubernetes API (empty: all). */
  ip_restrictions: string;
  /** JSON of the OpenID Connect configuration (clusters/oidc.ts), null when none. */
  open_id_connect: string | null;
  plan: string;
  private_network_id: string | null;
  nodes_subnet_id: string | null;
  load_balancers_subnet_id: string | null;
  /** JSON, or null when the client sent nothing meaningful. */
  private_network_configuration: string | null;
  status: string;
  status_message: string | null;
  /** Bumped by every accepted change the reconciler must apply. */
  generation: number;
  /** The generation the cluster last fully reflected. */
  observed_generation: number;
  /** The generation of the last `POST …/restart` (0: never): the control plane restarts once for it. */
  restart_generation: number;
  /** Bumped by `POST /kubeconfig/reset`: the cluster's API token derives from it. */
  token_epoch: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface ClusterHistoryTable {
  id: Generated<number>;
  cluster_id: string;
  generation: number;
  action:
    | 'create'
    | 'customize'
    | 'reset'
    | 'revert'
    | 'drift'
    | 'rollback'
    | 'delete'
    | 'nodepool'
    | 'upgrade'
    | 'restart';
  kube_proxy_mode: string;
  version: string;
  customization: string;
  created_at: string;
  /** Who asked (0007): null for changes no request made, and rows written before. */
  application_id: number | null;
  credential_id: number | null;
  source_ip: string | null;
  query_id: string | null;
  /** A revert's restored generation. */
  source_generation: number | null;
  /** What a drift repair restored. */
  note: string | null;
  /** The reconciler's outcome of applying this generation: READY or ERROR, with when and why. */
  outcome: string | null;
  outcome_message: string | null;
  outcome_at: string | null;
}

export interface ReconcileWorkTable {
  cluster_id: string;
  generation: number;
  /** Epoch milliseconds (bigint: PostgreSQL hands it back as a string). */
  not_before: number | string;
  lease_owner: string | null;
  lease_expires_at: number | string | null;
  attempts: number;
}

/** An emulated cluster's own state (src/emulator; migration 0002). */
export interface EmulatorClusterTable {
  id: string;
  version: string;
  node_count: number;
  /** bigint: PostgreSQL hands it back as a string. */
  resource_version: number | string;
  /** 1 while a controller has work in flight (rollout, starting pods): resumed on start. */
  busy: number;
  created_at: string;
}

/** An emulated cluster's Kubernetes object, stored whole as JSON text (migration 0002). */
export interface EmulatorObjectTable {
  cluster_id: string;
  resource: string;
  /** '' for cluster-scoped resources. */
  namespace: string;
  name: string;
  body: string;
  /**
   * What the emulator's lookups read of the object, as JSON text, for the kinds it keeps as text
   * until read (Events); null otherwise (migration 0014).
   */
  digest: string | null;
}

/** Scale-out: which process serves each emulated cluster (migration 0005). */
export interface EmulatorOwnerTable {
  cluster_id: string;
  owner: string;
  url: string;
  /** Epoch milliseconds on the database's clock (bigint: a string on PostgreSQL). */
  expires_at: number | string;
}

/** Scale-out: the installation's CA, one row with id 1 (migration 0006). */
export interface InstallationCaTable {
  id: number;
  cert_pem: string;
  /** The CA's private key, sealed with the installation key (see auth/secret-box.ts). */
  key_sealed: string;
}

export interface Schema {
  accounts: AccountTable;
  projects: ProjectTable;
  applications: ApplicationTable;
  credentials: CredentialTable;
  clusters: ClusterTable;
  cluster_history: ClusterHistoryTable;
  reconcile_work: ReconcileWorkTable;
  emulator_clusters: EmulatorClusterTable;
  emulator_objects: EmulatorObjectTable;
  emulator_owners: EmulatorOwnerTable;
  installation_ca: InstallationCaTable;
}
