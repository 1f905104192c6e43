/**
 * The reconciler thread: reconcile passes run in a worker thread of their own, so their share of
 * the work (Kubernetes API calls through client-node, TLS, JSON) uses a second core beside the
 * main thread's API, emulated clusters and database.
 *
 * The reconcile loop (claims, leases, retries) stays on the main thread, and so does every store
 * and provider call: a pass in the thread asks for them by name (reconcile-store.ts, provider.ts)
 * and the main thread runs them through the pass's lease-guarded context. The embedded engine
 * thus keeps one writer, and its in-memory cluster rows stay current. Only the Kubernetes API
 * calls are made in the thread: to the clusters this process serves through a `MessagePort` to
 * the main thread's clusters' API in memory (local-kube.ts), to others over the same HTTPS any
 * client uses; a lost lease is told to the thread, whose Kubernetes clients then refuse every
 * call of that pass.
 */
import { MessageChannel, type MessagePort, Worker as Thread } from 'node:worker_threads';
import type { Logger } from 'pino';
import { KUBE_LIBRARIES, KubeError, type KubeErrorKind } from './kube/kube-client.ts';
import { type LocalKube, serveLocalKube } from './kube/local-kube.ts';
import { type Lease, LeaseLostError } from './lease.ts';
import type { PassRunner } from './loop.ts';
import { outbox } from './outbox.ts';
import { type PassCall, servePassCall } from './pass-thread-rpc.ts';
import type { Outcome, PassSettings, ReconcileContext } from './reconcile-cluster.ts';

/** What the thread needs to reach the clusters' Kubernetes API and to log like the main thread. */
export interface PassThreadOptions {
  readonly kubePublicUrl: string;
  readonly caPem: string | undefined;
  /** Derives each cluster's token (clusters/cluster-tokens.ts); a secret, kept in memory only. */
  readonly kubeTokenKey: Buffer;
  readonly settings: PassSettings;
  readonly logLevel: string;
}

/** What the thread is started with: its options, and its end of the in-memory channel, if any. */
export interface PassThreadData extends PassThreadOptions {
  /** The clusters' API this process serves (local-kube.ts): the origin, and the thread's port. */
  readonly localKube?: { readonly origin: string; readonly port: MessagePort };
}

/** What the main thread tells the thread; posted in arrays, those of one microtask turn together (outbox.ts). */
export type ToThread =
  | { readonly type: 'pass'; readonly passId: number; readonly clusterId: string; readonly bindings: object }
  | { readonly type: 'lost'; readonly passId: number }
  | {
      readonly type: 'reply';
      readonly callId: number;
      readonly value?: unknown;
      readonly error?: ThreadError;
    };

/** What the thread tells the main thread; posted in arrays likewise. */
export type FromThread =
  | ({ readonly type: 'call'; readonly callId: number; readonly passId: number } & PassCall)
  | {
      readonly type: 'done';
      readonly passId: number;
      readonly outcome?: Outcome;
      readonly error?: ThreadError;
    };

/** An error as it crosses between threads (classes do not survive structured cloning). */
export interface ThreadError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly kubeKind?: KubeErrorKind;
  readonly status?: number;
}

export function toThreadError(error: unknown): ThreadError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  return {
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(error instanceof KubeError
      ? { kubeKind: error.kind, ...(error.status === undefined ? {} : { status: error.status }) }
      : {}),
  };
}

/** The error again, as the class the reconcile loop tells apart (lease lost, Kubernetes kinds). */
export function fromThreadError(error: ThreadError): Error {
  const rebuilt =
    error.name === 'LeaseLostError'
      ? new LeaseLostError()
      : error.kubeKind !== undefined
        ? new KubeError(error.kubeKind, error.message, error.status, undefined)
        : Object.assign(new Error(error.message), { name: error.name });
  if (error.stack !== undefined) rebuilt.stack = error.stack;
  return rebuilt;
}

/** The thread passes run in, and its outbox: what the main thread posts it leaves through `post`. */
interface RunningThread {
  readonly thread: Thread;
  readonly post: (message: ToThread) => void;
}

interface RunningPass {
  readonly ctx: ReconcileContext;
  resolve(outcome: Outcome): void;
  reject(error: Error): void;
}

export class PassThread implements PassRunner {
  readonly #options: PassThreadOptions;
  readonly #log: Logger;
  readonly #localKube: LocalKube | undefined;
  readonly #passes = new Map<number, RunningPass>();
  #thread: RunningThread | undefined;
  /** The main thread's end of the running thread's in-memory channel to the clusters' API. */
  #localPort: MessagePort | undefined;
  #nextPassId = 1;
  #closed = false;

  /**
   * `localKube`: the clusters' API this process serves; the thread's Kubernetes calls to clusters
   * at its origin reach it through a `MessagePort` instead of HTTPS (local-kube.ts).
   */
  constructor(options: PassThreadOptions, log: Logger, localKube?: LocalKube) {
    this.#options = options;
    this.#log = log;
    this.#localKube = localKube;
  }

  run(ctx: ReconcileContext, clusterId: string, lease: Lease): Promise<Outcome> {
    if (this.#closed) return Promise.reject(new Error('the reconciler thread is closed'));
    const running = this.#thread ?? this.#start();
    const passId = this.#nextPassId++;
    // The thread's own logger carries the pass's bindings (lease owner, reconcile id, cluster).
    const { pid: _pid, hostname: _hostname, ...bindings } = ctx.log.bindings();
    return new Promise<Outcome>((resolve, reject) => {
      this.#passes.set(passId, { ctx, resolve, reject });
      running.post({ type: 'pass', passId, clusterId, bindings });
      lease.onLost(() => {
        if (this.#passes.has(passId) && this.#thread === running) running.post({ type: 'lost', passId });
      });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const running = this.#thread;
    this.#thread = undefined;
    if (running !== undefined) await running.thread.terminate();
    this.#closeLocalPort();
    this.#failAll(new Error('the reconciler thread was stopped'));
  }

  #start(): RunningThread {
    // A small young generation: the passes' garbage is collected often rather than held in a young
    // generation grown to V8's default, which the process's RSS keeps (docs/performance.md, "Memory").
    const channel = this.#localKube === undefined ? undefined : new MessageChannel();
    if (channel !== undefined) serveLocalKube(channel.port1, this.#localKube!.send);
    this.#localPort = channel?.port1;
    const workerData: PassThreadData =
      channel === undefined
        ? this.#options
        : { ...this.#options, localKube: { origin: this.#localKube!.origin, port: channel.port2 } };
    const options = {
      workerData,
      transferList: channel === undefined ? [] : [channel.port2],
      resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB },
    };
    let thread: Thread;
    if (import.meta.url.endsWith('.ts')) {
      // From the sources, the thread runs TypeScript like this process: through tsx's loader,
      // registered there too. Every pass loads the Kubernetes libraries; loaded before the loader
      // is, their ≈ 1,000 modules do not each cross its hooks' thread (Node 20 runs module hooks
      // off-thread, ≈ 1 ms a module): ≈ 0.6 s of CPU instead of ≈ 2 s at the thread's first pass.
      const loader = import.meta.resolve('tsx/esm/api');
      const entry = new URL('./pass-thread.entry.ts', import.meta.url).href;
      const libraries = JSON.stringify(KUBE_LIBRARIES.map((library) => import.meta.resolve(library)));
      const source = `Promise.all(${libraries}.map((library) => import(library))).then(() => import(${JSON.stringify(loader)})).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
      thread = new Thread(source, { ...options, eval: true });
    } else {
      // From a bundle (scripts/build.js), its entry is bundled beside it: plain JavaScript, no loader.
      thread = new Thread(new URL('./pass-thread.entry.js', import.meta.url), options);
    }
    // Both ways, the messages of one turn of the microtasks leave as one (outbox.ts).
    const running: RunningThread = { thread, post: outbox<ToThread>(thread) };
    thread.on('message', (messages: FromThread[]) => {
      for (const message of messages) this.#onMessage(running.post, message);
    });
    thread.on('error', (error) => {
      this.#log.error({ err: error }, 'The reconciler thread failed');
    });
    thread.on('exit', (code) => {
      if (this.#thread !== running) return;
      this.#thread = undefined;
      this.#closeLocalPort();
      // Its passes are retried like any failed pass; the next pass starts a new thread.
      this.#failAll(new Error(`the reconciler thread exited (code ${code})`));
    });
    this.#thread = running;
    return running;
  }

  #closeLocalPort(): void {
    this.#localPort?.close();
    this.#localPort = undefined;
  }

  #failAll(error: Error): void {
    const passes = [...this.#passes.values()];
    this.#passes.clear();
    for (const pass of passes) pass.reject(error);
  }

  #onMessage(post: (message: ToThread) => void, message: FromThread): void {
    if (message.type === 'done') {
      const pass = this.#passes.get(message.passId);
      if (pass === undefined) return;
      this.#passes.delete(message.passId);
      if (message.error !== undefined) pass.reject(fromThreadError(message.error));
      else pass.resolve(message.outcome as Outcome);
      return;
    }
    const { callId } = message;
    this.#call(message).then(
      (value) => post({ type: 'reply', callId, value }),
      (error: unknown) => post({ type: 'reply', callId, error: toThreadError(error) }),
    );
  }

  /** A store or provider call of a pass, through that pass's lease-guarded context. */
  async #call(message: Extract<FromThread, { type: 'call' }>): Promise<unknown> {
    const pass = this.#passes.get(message.passId);
    if (pass === undefined) throw new Error(`no pass ${message.passId} is running`);
    return servePassCall(pass.ctx, message);
  }
}

/** The reconciler thread's young generation (V8's default grows to 48 MB under a fleet's load). */
export const THREAD_YOUNG_GENERATION_MB = 8;
