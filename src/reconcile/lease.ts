/**
 * A pass's hold on its cluster's claim, as the pass sees it. The reconcile loop renews the claim
 * while the pass runs; once a renewal finds another worker holding it, the lease is lost and
 * every further call the pass makes fails, wherever the pass runs (this thread or the
 * reconciler thread).
 */
export class Lease {
  #lost = false;
  #listeners: Array<() => void> = [];

  get lost(): boolean {
    return this.#lost;
  }

  lose(): void {
    if (this.#lost) return;
    this.#lost = true;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }

  /** Calls `listener` once the lease is lost (at once if it already is). */
  onLost(listener: () => void): void {
    if (this.#lost) listener();
    else this.#listeners.push(listener);
  }
}

/** A call a pass made after its lease was lost. */
export class LeaseLostError extends Error {
  constructor() {
    super('the lease on this cluster was lost; another worker owns it');
    this.name = 'LeaseLostError';
  }
}

/**
 * What a pass calls (store, provider, Kubernetes clients, and the objects they hand out), as the
 * pass sees it: once the pass has lost its lease, every call fails with LeaseLostError.
 */
export function leaseGuarded<T extends object>(target: T, lease: { readonly lost: boolean }): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (lease.lost) throw new LeaseLostError();
        const result: unknown = value.apply(object, args);
        const handsOut =
          result !== null &&
          typeof result === 'object' &&
          typeof (result as { then?: unknown }).then !== 'function';
        return handsOut ? leaseGuarded(result, lease) : result;
      };
    },
  });
}
