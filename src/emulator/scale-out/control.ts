/**
 * The control protocol: the operations on emulated clusters no Kubernetes API call can do (the
 * reconciler's provider), as calls between the processes of one installation. A call names its
 * operation by the method's own name (`POST /internal/emulator/:clusterId/ensureCluster`), and its
 * body carries the method's arguments besides the cluster id.
 */
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Forwarder } from './forward.ts';

/**
 * The operations on emulated clusters no Kubernetes API call can do. Structurally the
 * reconciler's `ClusterProvider` minus `connection`, so the emulator serves as one without
 * importing the reconciler.
 */
/** A worker node as the cluster must have it (structurally the reconciler's `NodeShape`). */
export interface EmulatedNode {
  readonly name: string;
  /** Its node pool's name: the Node's `nodepool` label. */
  readonly pool: string;
  readonly flavor: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly taints: readonly { readonly key: string; readonly value: string; readonly effect: string }[];
  readonly unschedulable: boolean;
}

export interface EnsureClusterInput {
  readonly id: string;
  readonly version: string;
  readonly nodes: readonly EmulatedNode[];
}

export interface EmulatorControl {
  /**
   * Idempotently creates the cluster: system namespaces, the kube-proxy ConfigMap and DaemonSet
   * (kubeadm layout) and the kube-apiserver pod; and makes its Nodes those of `nodes` (Ready, with
   * their pool's labels, annotations, taints and unschedulable). Nodes that join get a kube-proxy
   * pod from the DaemonSet controller; Nodes not listed leave with theirs. For a cluster that
   * exists, only the nodes and version follow.
   *
   * Answers the cluster's state stamp afterwards: two equal stamps mean nothing in the cluster
   * changed between them (same serving process, same resourceVersion), so what a reader found at
   * the first still holds. Undefined when not known (a process that does not tell).
   */
  ensureCluster(input: EnsureClusterInput): Promise<string | undefined>;
  /** Replaces the kube-apiserver pod's admission flags (`--enable-admission-plugins=…`, `--disable-…`). */
  setApiServerFlags(clusterId: string, flags: readonly string[]): Promise<void>;
  /**
   * Restarts kube-apiserver: every watch on the cluster ends (clients re-list and watch again),
   * the objects stay, its pod's container restarts and the pod records `restart` (annotation
   * `mks.ovh/restart-generation`): a restart already recorded is not made again.
   */
  restartApiServer(clusterId: string, restart: string): Promise<void>;
  /**
   * Reset: erases every object outside kube-system, kube-public and kube-node-lease (`default`
   * is kept but emptied), then re-creates kube-system's base objects as a fresh install does.
   */
  eraseCluster(clusterId: string): Promise<void>;
  /** Removes the cluster entirely; its API answers 404 afterwards. */
  destroyCluster(clusterId: string): Promise<void>;
}

/** The operations' wire names: the method names themselves. */
export const CONTROL_OPERATIONS = [
  'ensureCluster',
  'setApiServerFlags',
  'restartApiServer',
  'eraseCluster',
  'destroyCluster',
] as const satisfies readonly (keyof EmulatorControl)[];

export type ControlOperation = (typeof CONTROL_OPERATIONS)[number];

/** A call's body: the operation's arguments besides the cluster id, which the path carries. */
export interface ControlBody {
  readonly nodes?: readonly EmulatedNode[];
  readonly version?: string;
  readonly flags?: readonly string[];
  readonly restart?: string;
}

/** What an operation answers: ensureCluster's state stamp; nothing for the others. */
export type ControlResult = string | undefined;

/** The result a control route's JSON answer (`{ result }`) carries; undefined for `{}`. */
export function controlResult(answer: unknown): ControlResult {
  const result = (answer as { result?: unknown } | undefined)?.result;
  return typeof result === 'string' ? result : undefined;
}

export interface ControlCall {
  readonly operation: ControlOperation;
  readonly clusterId: string;
  readonly body: ControlBody;
}

/** What each operation's body must hold (checked before anything runs: 400 otherwise). */
const REQUIRED: Readonly<Record<ControlOperation, readonly (keyof ControlBody)[]>> = {
  ensureCluster: ['nodes', 'version'],
  setApiServerFlags: ['flags'],
  restartApiServer: ['restart'],
  eraseCluster: [],
  destroyCluster: [],
};

/** `EmulatorControl` as calls: each method call becomes a `ControlCall` handed to `send`. */
export class ControlCalls implements EmulatorControl {
  readonly #send: (call: ControlCall) => Promise<ControlResult>;

  constructor(send: (call: ControlCall) => Promise<ControlResult>) {
    this.#send = send;
  }

  ensureCluster(input: EnsureClusterInput): Promise<string | undefined> {
    return this.#send({
      operation: 'ensureCluster',
      clusterId: input.id,
      body: { nodes: input.nodes, version: input.version },
    });
  }
  setApiServerFlags(clusterId: string, flags: readonly string[]): Promise<void> {
    return this.#sendVoid({ operation: 'setApiServerFlags', clusterId, body: { flags: [...flags] } });
  }
  restartApiServer(clusterId: string, restart: string): Promise<void> {
    return this.#sendVoid({ operation: 'restartApiServer', clusterId, body: { restart } });
  }
  eraseCluster(clusterId: string): Promise<void> {
    return this.#sendVoid({ operation: 'eraseCluster', clusterId, body: {} });
  }
  destroyCluster(clusterId: string): Promise<void> {
    return this.#sendVoid({ operation: 'destroyCluster', clusterId, body: {} });
  }

  async #sendVoid(call: ControlCall): Promise<void> {
    await this.#send(call);
  }
}

/** Runs a call on `target`: the inverse of `ControlCalls`. */
export function invokeControl(target: EmulatorControl, call: ControlCall): Promise<ControlResult> {
  const { clusterId, body } = call;
  switch (call.operation) {
    case 'ensureCluster':
      return target.ensureCluster({ id: clusterId, nodes: body.nodes!, version: body.version! });
    case 'setApiServerFlags':
      return target.setApiServerFlags(clusterId, body.flags!).then(() => undefined);
    case 'restartApiServer':
      return target.restartApiServer(clusterId, body.restart!).then(() => undefined);
    case 'eraseCluster':
      return target.eraseCluster(clusterId).then(() => undefined);
    case 'destroyCluster':
      return target.destroyCluster(clusterId).then(() => undefined);
  }
}

export const controlPath = (call: ControlCall): string =>
  `/internal/emulator/${encodeURIComponent(call.clusterId)}/${call.operation}`;

/**
 * The control operations from a process without emulated clusters (`mks worker`): sent to the
 * API processes (`kubeUrl`), which run them where the cluster is owned.
 */
export class RemoteEmulatorControl extends ControlCalls {
  readonly #forwarder: Forwarder;

  constructor(kubeUrl: string, internalToken: string, caPem: string | undefined) {
    const forwarder = new Forwarder(caPem);
    super(async (call) =>
      controlResult(await forwarder.post(kubeUrl, controlPath(call), internalToken, call.body)),
    );
    this.#forwarder = forwarder;
  }

  close(): void {
    this.#forwarder.close();
  }
}

/**
 * `POST /internal/emulator/:clusterId/:operation`: the control operations, for other mks
 * processes (token derived from the installation key). `forward` sends the call on when another
 * process owns the cluster (its reply, else undefined); `run` runs it here.
 */
export function registerControlRoute(
  app: FastifyInstance,
  token: string,
  forward: (
    clusterId: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ) => Promise<FastifyReply | undefined>,
  run: (call: ControlCall) => Promise<ControlResult>,
): void {
  const expected = Buffer.from(`Bearer ${token}`);
  app.post(
    '/internal/emulator/:clusterId/:operation',
    {
      config: { auth: 'none' },
      bodyLimit: 64 * 1024,
      // The token first: callers without it learn nothing, not even the body's shape.
      onRequest: async (request, reply) => {
        const given = Buffer.from(request.headers.authorization ?? '');
        if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected))
          return reply.code(401).send({ message: 'invalid internal token' });
      },
      schema: {
        params: {
          type: 'object',
          properties: { clusterId: { type: 'string' }, operation: { enum: [...CONTROL_OPERATIONS] } },
          required: ['clusterId', 'operation'],
        },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            nodes: {
              type: 'array',
              maxItems: 10_000,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['name', 'pool', 'flavor', 'labels', 'annotations', 'taints', 'unschedulable'],
                properties: {
                  name: { type: 'string', minLength: 1, maxLength: 253 },
                  pool: { type: 'string' },
                  flavor: { type: 'string' },
                  labels: { type: 'object', additionalProperties: { type: 'string' } },
                  annotations: { type: 'object', additionalProperties: { type: 'string' } },
                  taints: {
                    type: 'array',
                    items: {
                      type: 'object',
                      additionalProperties: false,
                      required: ['key', 'value', 'effect'],
                      properties: {
                        key: { type: 'string' },
                        value: { type: 'string' },
                        effect: { type: 'string' },
                      },
                    },
                  },
                  unschedulable: { type: 'boolean' },
                },
              },
            },
            version: { type: 'string', minLength: 1 },
            flags: { type: 'array', items: { type: 'string' } },
            restart: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const { clusterId, operation } = request.params as { clusterId: string; operation: ControlOperation };
      const body = (request.body ?? {}) as ControlBody;
      const missing = REQUIRED[operation].filter((field) => body[field] === undefined);
      if (missing.length > 0)
        return reply.code(400).send({ message: `${operation} needs ${missing.join(' and ')}` });
      const forwarded = await forward(clusterId, request, reply);
      if (forwarded !== undefined) return forwarded;
      const result = await run({ operation, clusterId, body });
      return reply.code(200).send(result === undefined ? {} : { result });
    },
  );
}
