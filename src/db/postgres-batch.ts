/**
 * Loads of one event-loop turn gathered into one statement (DataLoader style): every `load(key)`
 * asked before the turn ends is answered by one call of `run` made at its end (`setImmediate`),
 * so several requests served in one turn share pg's per-query cost (one Bind/Execute, one result,
 * one round trip) instead of paying it each. The statement is sent after every caller asked, so
 * each answer is as of a read made after its request arrived. Callers of the same key in one turn
 * share one answer.
 */
export class TurnBatch<K, V> {
  readonly #run: (keys: K[]) => Promise<ReadonlyMap<K, V>>;
  #pending = new Map<K, Deferred<V | undefined>>();
  #scheduled = false;

  /** `run` answers the keys it found; a key it leaves out is answered `undefined`. */
  constructor(run: (keys: K[]) => Promise<ReadonlyMap<K, V>>) {
    this.#run = run;
  }

  load(key: K): Promise<V | undefined> {
    let waiting = this.#pending.get(key);
    if (waiting === undefined) {
      waiting = deferred();
      this.#pending.set(key, waiting);
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return waiting.promise;
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = new Map();
    this.#scheduled = false;
    this.#run([...batch.keys()]).then(
      (found) => {
        for (const [key, waiting] of batch) waiting.resolve(found.get(key));
      },
      (error: unknown) => {
        for (const waiting of batch.values()) waiting.reject(error);
      },
    );
  }
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}
