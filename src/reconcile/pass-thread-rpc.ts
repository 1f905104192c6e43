/**
 * The calls a pass in the reconciler thread makes to the main thread, derived from the store and
 * provider contracts (STORE_OPERATIONS, PROVIDER_OPERATIONS): the thread's stand-ins and the main
 * thread's dispatch are built from the same lists, so an operation is declared once, in its
 * interface and its list, and nowhere else.
 */
import { type ClusterProvider, PROVIDER_OPERATIONS } from './provider.ts';
import { type ReconcileStore, STORE_OPERATIONS } from './reconcile-store.ts';

/** What a pass calls on the main thread, by target. */
export interface PassTargets {
  readonly store: ReconcileStore;
  readonly provider: ClusterProvider;
}

/** The operations of each target, as its contract lists them. */
export const PASS_OPERATIONS = {
  store: STORE_OPERATIONS,
  provider: PROVIDER_OPERATIONS,
} as const satisfies { readonly [K in keyof PassTargets]: readonly (keyof PassTargets[K])[] };

type Target = keyof PassTargets;
type Listed<K extends Target> = (typeof PASS_OPERATIONS)[K][number];
type Args<F> = F extends (...args: infer A) => unknown ? A : never;

/**
 * Compile time: every list names every operation of its interface. A method added to an
 * interface but not to its list fails to compile here instead of failing in the thread.
 */
type Unlisted = { [K in Target]: Exclude<keyof PassTargets[K], Listed<K>> }[Target];
type AssertTrue<T extends true> = T;
export type EveryOperationListed = AssertTrue<[Unlisted] extends [never] ? true : false>;

/** One call: a target, one of its operations, and that operation's arguments. */
export type PassCall = {
  [K in Target]: {
    [M in Listed<K>]: {
      readonly target: K;
      readonly method: M;
      readonly args: Args<PassTargets[K][M & keyof PassTargets[K]]>;
    };
  }[Listed<K>];
}[Target];

/** The thread's side: `target` whose every operation is sent to the main thread by `send`. */
export function remoteTarget<K extends Target>(
  target: K,
  send: (call: PassCall) => Promise<unknown>,
): PassTargets[K] {
  const operations: readonly string[] = PASS_OPERATIONS[target];
  return Object.fromEntries(
    operations.map((method) => [method, (...args: unknown[]) => send({ target, method, args } as PassCall)]),
  ) as unknown as PassTargets[K];
}

/**
 * The main thread's side: runs `call` on `targets` (a pass's lease-guarded store and provider).
 * A name outside the contracts is refused: the thread asks only for listed operations.
 */
export function servePassCall(
  targets: PassTargets,
  call: { readonly target: string; readonly method: string; readonly args: readonly unknown[] },
): Promise<unknown> {
  if (!isPassCall(call)) {
    return Promise.reject(
      new Error(`the reconciler thread asked for an unknown call ${call.target}.${call.method}`),
    );
  }
  const object = targets[call.target];
  const operation = object[call.method as keyof typeof object] as (
    ...args: readonly unknown[]
  ) => Promise<unknown>;
  return operation.apply(object, call.args);
}

function isPassCall(call: { readonly target: string; readonly method: string }): call is PassCall {
  return (
    (call.target === 'store' || call.target === 'provider') &&
    (PASS_OPERATIONS[call.target] as readonly string[]).includes(call.method)
  );
}
