/**
 * A cache's map with a bound on its size: adding a key when it holds `max` entries empties it
 * first (it starts over). Simpler and cheaper than an LRU, for caches whose working set is far
 * below the bound (credentials, projects, parsed texts, rendered configs): a reset costs a few
 * recomputations, never a wrong answer.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly #max: number;

  constructor(max: number) {
    super();
    this.#max = max;
  }

  override set(key: K, value: V): this {
    if (this.size >= this.#max && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}
