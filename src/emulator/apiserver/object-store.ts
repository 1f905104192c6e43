/**
 * The object store of one emulated cluster, in memory: its objects, its resourceVersion counter, its watch log and
 * watchers, and the write semantics of the API server (uid, creationTimestamp, generation,
 * status subresource, optimistic concurrency, managedFields). Every change is handed to
 * `persist` (write-through) and to `onChange` (controllers), in that order.
 */
import { randomUUID } from 'node:crypto';
import type { StoredBody } from '../store/stored-body.ts';
import { applyDefaults, initialStatus } from './defaults.ts';
import { assertStorable, assertStorableText } from './limits.ts';
import { markTracked, trackCreate, trackUpdate } from './managed-fields.ts';
import {
  alreadyExistsError,
  clone,
  conflictError,
  deepEqual,
  forgetJson,
  inApiOrder,
  invalidError,
  type JsonObject,
  type KubeObject,
  notFoundError,
  parseJson,
  parseStored,
  rfc3339,
  StatusError,
} from './objects.ts';
import { RESOURCE, type ResourceType } from './resources.ts';
import { allocateServiceAddresses, keepServiceAddresses } from './services.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ChangeEvent {
  readonly type: EventType;
  readonly resource: ResourceType;
  /**
   * The object after the change (for DELETED: the last state, with the delete's resourceVersion).
   * For an object created as its text (`createText`) it is parsed when first read: read it only
   * when the change's resource calls for it.
   */
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
  readonly rv: number;
}

export interface Watcher {
  readonly resource: ResourceType;
  readonly namespace: string | undefined;
  send(event: ChangeEvent): void;
  close(): void;
}

export interface ClusterMeta {
  id: string;
  version: string;
  nodeCount: number;
  resourceVersion: number;
  busy: boolean;
  createdAt: string;
}

export interface ObjectStoreHooks {
  /** An object written (null: deleted), or created as its text (`createText`). */
  persistObject(
    cluster: ObjectStore,
    resource: ResourceType,
    namespace: string,
    name: string,
    object: KubeObject | StoredText | null,
  ): void;
  persistMeta(cluster: ObjectStore): void;
  /** A pod's last container log was written (null: the pod is gone). */
  persistLog(cluster: ObjectStore, podUid: string, log: string | null): void;
  /**
   * Something must read the objects this cluster's load left in the store (`ObjectStore.defer`):
   * load them soon (they cannot be read synchronously on every engine).
   */
  loadDeferred(cluster: ObjectStore): void;
  onChange(cluster: ObjectStore, event: ChangeEvent): void;
  now(): Date;
}

export interface WriteOptions {
  /** Field manager recorded in managedFields; undefined: not tracked (controller status writes). */
  readonly manager?: string;
  readonly dryRun?: boolean;
  readonly subresource?: 'status';
  /** A controller's own write: spec and status replaced together (no status subresource rule). */
  readonly internal?: boolean;
  /**
   * The caller hands the input over: it is stored without a deep copy (parts it shares with
   * stored objects stay shared, which is safe as stored objects are never changed in place).
   */
  readonly owned?: boolean;
  /**
   * A create by `manager` of an object with the leaf paths of one created before: that one's
   * fieldsV1, recorded as is (managed-fields.ts `trackCreate`) instead of walking the object.
   */
  readonly sameShapeAs?: JsonObject;
}

/** What `createText` hands its writer to compose the object with: what `create` would set. */
export interface CreationStamp {
  readonly uid: string;
  readonly resourceVersion: string;
  readonly creationTimestamp: string;
}

/**
 * An object as the text `create` stores for it (the JSON of the object in API order), with its
 * resource's digest (`Digest`) as an object and as the text the store writes beside the body.
 */
export class StoredText {
  constructor(
    readonly text: string,
    readonly digest: KubeObject,
    readonly digestText: string,
  ) {}
}

/**
 * The watch log's entry of an object created as text (`createText`): its object is parsed when a
 * watcher or a resumed watch reads it, which most never do (a cluster's Events).
 */
class TextChange implements ChangeEvent {
  readonly type = 'ADDED';
  readonly previous = undefined;
  readonly resource: ResourceType;
  readonly rv: number;
  #text: string;
  #object: KubeObject | undefined;

  constructor(resource: ResourceType, text: string, rv: number) {
    this.resource = resource;
    this.#text = text;
    this.rv = rv;
  }

  get object(): KubeObject {
    if (this.#object === undefined) {
      this.#object = parseJson(this.#text);
      this.#text = '';
    }
    return this.#object;
  }
}

/** A copy of the object that may be changed at its top level and in its metadata. */
const shallowCopy = (object: KubeObject): KubeObject => ({ ...object, metadata: { ...object.metadata } });

const WATCH_LOG_SIZE = 2000;

/**
 * A DaemonSet's template generation, which apps/v1 carries in an annotation: 1 at creation, one
 * more at each change of the pod template (kube-apiserver's DaemonSet strategy).
 */
export const TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation';

function setTemplateGeneration(object: KubeObject, generation: number): void {
  object.metadata.annotations = { ...object.metadata.annotations, [TEMPLATE_GENERATION]: String(generation) };
}

/**
 * An object read back from the store and kept as its stored text until something reads it whole
 * (`get`, `list`, `values`, `filed`, a write): `digest`, when it has one, holds what the resource's
 * secondary indexes and the readers of `filedDigests` read of it. A cluster loaded for a change
 * thus parses only what the change reads; Events, most of what a used cluster stores, stay text
 * until a client lists or gets them (docs/performance.md, "Seventh round: Events left as text"),
 * and so do the kinds a change does not read (ServiceAccounts, most ConfigMaps, namespaces:
 * "Eighth round: every kind left as text"). One without a digest is filed by no index: building
 * one of its resource parses it first.
 */
class Unparsed {
  constructor(
    /** Its text, or its bytes as a load read them (decoded when parsed: stored-body.ts). */
    readonly body: StoredBody,
    readonly digest: KubeObject | undefined,
  ) {}
}

/** What a bucket holds for a key: the object, or its stored text not parsed yet. */
type Entry = KubeObject | Unparsed;

/**
 * What the indexes file an entry by: the object, or the digest of one not parsed yet (a resource
 * with an index holds no text without a digest: `#index`, `#restoreEntry`).
 */
const digestOf = (entry: Entry): KubeObject => (entry instanceof Unparsed ? entry.digest! : entry);

/**
 * What the emulator's lookups read of the objects of a kind kept as text until read (Events,
 * cluster/events.ts): `of` writes it beside the object's body, `read` turns it back into an object
 * holding those members, as they are in the object (missing ones missing).
 */
export interface Digest {
  of(object: KubeObject): string;
  read(text: string): KubeObject;
}

const EMPTY_BUCKET: ReadonlyMap<string, Entry> = new Map();

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/**
 * Callbacks of the hot paths are module-level functions, not closures made per call: V8 keeps a
 * function's optimized code only while a function object uses it, so a closure made per call
 * lost its code at every full collection and was compiled again (docs/performance.md,
 * "Fourteenth round").
 */
const byKey = ([a]: [string, KubeObject], [b]: [string, KubeObject]): number => a.localeCompare(b);
const entryObject = ([, object]: [string, KubeObject]): KubeObject => object;

/** What a secondary index files an object under; undefined: not filed. */
export type IndexKey = (object: KubeObject) => string | undefined;

/**
 * A secondary index of one resource: the bucket keys of its objects, by what `keyOf` files them
 * under. A value filed by one object (every Event by its occurrence) holds that object's key
 * alone, not a set of one: an index built over a loaded cluster's Events made a set per Event.
 */
class SecondaryIndex {
  readonly #keyOf: IndexKey;
  readonly #keys = new Map<string, string | Set<string>>();

  constructor(keyOf: IndexKey, bucket: ReadonlyMap<string, Entry>) {
    this.#keyOf = keyOf;
    for (const [key, entry] of bucket) this.add(key, digestOf(entry));
  }

  add(key: string, object: KubeObject): void {
    const filed = this.#keyOf(object);
    if (filed === undefined) return;
    const keys = this.#keys.get(filed);
    if (keys === undefined) this.#keys.set(filed, key);
    else if (typeof keys !== 'string') keys.add(key);
    else if (keys !== key) this.#keys.set(filed, new Set([keys, key]));
  }

  remove(key: string, object: KubeObject): void {
    const filed = this.#keyOf(object);
    if (filed === undefined) return;
    const keys = this.#keys.get(filed);
    if (keys === undefined) return;
    if (typeof keys === 'string') {
      if (keys === key) this.#keys.delete(filed);
      return;
    }
    keys.delete(key);
    if (keys.size === 0) this.#keys.delete(filed);
  }

  keysOf(filed: string): Iterable<string> {
    const keys = this.#keys.get(filed);
    return keys === undefined ? EMPTY_KEYS : typeof keys === 'string' ? [keys] : keys;
  }

  count(filed: string): number {
    const keys = this.#keys.get(filed);
    return keys === undefined ? 0 : typeof keys === 'string' ? 1 : keys.size;
  }
}

const EMPTY_KEYS: ReadonlySet<string> = new Set();
const EMPTY_OBJECTS: ReadonlyMap<string, KubeObject> = new Map();

/** A resource's objects left in the store by a load (`ObjectStore.defer`): keys, count by namespace. */
interface Deferred {
  readonly keys: Set<string>;
  readonly byNamespace: Map<string, number>;
}

export class ObjectStore {
  readonly meta: ClusterMeta;
  /**
   * The output of each pod's last container run, by pod uid (`kubectl logs`), as the kubelet
   * wrote it. Written through like the objects, so a cluster loaded again (after it left memory,
   * or in another process) still has them; for a cluster stored before logs were written through,
   * the kubelet rebuilds them from the pods and their ConfigMap.
   */
  readonly containerLogs: Map<string, string>;
  readonly #hooks: ObjectStoreHooks;
  readonly #objects = new Map<string, Map<string, Entry>>();
  /** How many entries of each resource (storage name) are still text (`Unparsed`). */
  readonly #unparsed = new Map<string, number>();
  /** Each bucket's objects in list order, kept until the bucket changes. */
  readonly #sorted = new Map<string, KubeObject[]>();
  /**
   * Secondary indexes by resource (storage name), each built on its first lookup and kept up to
   * date by every change after it (`filed`, `countFiled`).
   */
  readonly #indexes = new Map<string, Map<IndexKey, SecondaryIndex>>();
  /**
   * Objects the load of this cluster left in the store, by storage name (`defer`): their keys, and
   * how many each namespace has. Until `restoreDeferred` brings them in, they are not read: a
   * reader of their resource must have them loaded first (`isDeferred`; `#assertLoaded`).
   */
  readonly #deferred = new Map<string, Deferred>();
  readonly #log: ChangeEvent[] = [];
  /** Every event with rv > logStart is in `log`. */
  #logStart: number;
  readonly watchers = new Set<Watcher>();
  destroyed = false;

  constructor(meta: ClusterMeta, hooks: ObjectStoreHooks) {
    this.meta = meta;
    this.#hooks = hooks;
    this.#logStart = meta.resourceVersion;
    this.containerLogs = new ContainerLogs((uid, log) => hooks.persistLog(this, uid, log));
  }

  /** Loads a stored container log (used when reading the cluster from the store). */
  restoreLog(podUid: string, log: string): void {
    Map.prototype.set.call(this.containerLogs, podUid, log);
  }

  /** Loads a stored object without events (used when reading the cluster from the store). */
  restore(resource: ResourceType, object: KubeObject): void {
    this.#restoreEntry(
      resource.storage,
      keyOf(object.metadata.namespace ?? '', object.metadata.name ?? ''),
      object,
    );
  }

  /**
   * Loads a stored object as its stored body (its text, or its bytes: stored-body.ts), parsed when
   * something reads it whole; `digest` (its resource's `Digest.read`) holds every member the
   * resource's indexes and `filedDigests`' readers read, and its namespace and name.
   */
  restoreText(resource: ResourceType, body: StoredBody, digest: KubeObject): void {
    const key = keyOf(digest.metadata.namespace ?? '', digest.metadata.name ?? '');
    this.#restoreEntry(resource.storage, key, new Unparsed(body, digest));
  }

  /**
   * Loads a stored object as its stored body (as `restoreText`), by the namespace ('' for a
   * cluster-scoped one) and name it is stored under, without a digest: parsed when something reads
   * it whole, or when an index of its resource is built.
   */
  restoreRow(resource: ResourceType, namespace: string, name: string, body: StoredBody): void {
    this.#restoreEntry(resource.storage, keyOf(namespace, name), new Unparsed(body, undefined));
  }

  /**
   * Leaves the objects of `resource` named by `keys` (namespace, name) in the store: the load did
   * not read them (emulator.ts, "Events stay in the store"). They count as the resource's objects
   * (`deferredCount`, a create of one of their names) but are not read until `restoreDeferred`;
   * `filed` and `countFiled` then see only the objects in memory.
   */
  defer(resource: ResourceType, keys: Iterable<readonly [namespace: string, name: string]>): void {
    const deferred: Deferred = { keys: new Set(), byNamespace: new Map() };
    for (const [namespace, name] of keys) {
      deferred.keys.add(keyOf(namespace, name));
      deferred.byNamespace.set(namespace, (deferred.byNamespace.get(namespace) ?? 0) + 1);
    }
    if (deferred.keys.size > 0) this.#deferred.set(resource.storage, deferred);
  }

  /** Whether objects of `resource` are still in the store only; with a name, whether that one is. */
  isDeferred(resource: ResourceType, namespace?: string, name?: string): boolean {
    if (this.#deferred.size === 0) return false;
    const deferred = this.#deferred.get(resource.storage);
    if (deferred === undefined) return false;
    return name === undefined || deferred.keys.has(keyOf(namespace ?? '', name));
  }

  /** Whether any resource has objects still in the store only. */
  get hasDeferred(): boolean {
    return this.#deferred.size > 0;
  }

  /** How many objects of `resource` in `namespace` are still in the store only. */
  deferredCount(resource: ResourceType, namespace: string): number {
    return this.#deferred.get(resource.storage)?.byNamespace.get(namespace) ?? 0;
  }

  /** Asks the cluster's owner to load the objects of `resource` still in the store (`loadDeferred`). */
  needDeferred(resource: ResourceType): void {
    if (this.isDeferred(resource)) this.#hooks.loadDeferred(this);
  }

  /**
   * Brings in the objects of `resource` the load left in the store, read from it now: `restore`
   * restores each of them (`restoreText`, `restoreRow`), and is handed only those still deferred,
   * so one the cluster wrote since (a name taken again after it was deleted) keeps its newer state.
   */
  restoreDeferred<T extends { readonly namespace: string; readonly name: string }>(
    resource: ResourceType,
    stored: Iterable<T>,
    restore: (object: T) => void,
  ): void {
    const deferred = this.#deferred.get(resource.storage);
    if (deferred === undefined) return;
    this.#deferred.delete(resource.storage);
    for (const object of stored) if (deferred.keys.has(keyOf(object.namespace, object.name))) restore(object);
  }

  /** A read of every object of a resource, or of one left in the store: a bug unless it is loaded. */
  #assertLoaded(storage: string, key?: string): void {
    const deferred = this.#deferred.get(storage);
    if (deferred !== undefined && (key === undefined || deferred.keys.has(key)))
      throw new Error(
        `emulated cluster ${this.meta.id}: ${storage} read before those left in the store were loaded`,
      );
  }

  #restoreEntry(storage: string, key: string, entry: Entry): void {
    const bucket = this.#bucket(storage);
    const replaced = bucket.get(key);
    if (replaced instanceof Unparsed) this.#unparsed.set(storage, this.#unparsed.get(storage)! - 1);
    // An index files objects by what a text without a digest does not tell: parsed now.
    const filed = entry instanceof Unparsed && entry.digest === undefined && this.#indexes.has(storage);
    const stored = filed ? parseStored((entry as Unparsed).body) : entry;
    if (stored instanceof Unparsed) this.#unparsed.set(storage, (this.#unparsed.get(storage) ?? 0) + 1);
    bucket.set(key, stored);
    this.#reindex(storage, key, replaced, stored);
  }

  /** Keeps the resource's secondary indexes (if any was built) up to date with a change of `key`. */
  #reindex(storage: string, key: string, previous: Entry | undefined, next: Entry | undefined) {
    const indexes = this.#indexes.get(storage);
    if (indexes === undefined) return;
    for (const index of indexes.values()) {
      if (previous !== undefined) index.remove(key, digestOf(previous));
      if (next !== undefined) index.add(key, digestOf(next));
    }
  }

  /**
   * The object a bucket holds for `key`, parsed if it was still text. The parsed object takes the
   * text's place (same key, same place in the bucket's order; the indexes file it the same, as
   * its digest holds what they read): every reader gets the same object from then on.
   */
  #parsed(storage: string, bucket: Map<string, Entry>, key: string, entry: Entry): KubeObject {
    if (!(entry instanceof Unparsed)) return entry;
    const object = parseStored(entry.body);
    bucket.set(key, object);
    this.#unparsed.set(storage, this.#unparsed.get(storage)! - 1);
    return object;
  }

  /** The resource's bucket with every entry parsed (for the readers of all its objects). */
  #parsedBucket(storage: string): Map<string, KubeObject> | undefined {
    const bucket = this.#objects.get(storage);
    if (bucket !== undefined && (this.#unparsed.get(storage) ?? 0) > 0)
      for (const [key, entry] of bucket) this.#parsed(storage, bucket, key, entry);
    return bucket as Map<string, KubeObject> | undefined;
  }

  #index(resource: ResourceType, by: IndexKey): SecondaryIndex {
    let indexes = this.#indexes.get(resource.storage);
    if (indexes === undefined) {
      indexes = new Map();
      this.#indexes.set(resource.storage, indexes);
    }
    let index = indexes.get(by);
    if (index === undefined) {
      const bucket = this.#objects.get(resource.storage);
      // Texts without a digest tell no index what it files by: parsed first.
      if (bucket !== undefined && (this.#unparsed.get(resource.storage) ?? 0) > 0)
        for (const [key, entry] of bucket)
          if (entry instanceof Unparsed && entry.digest === undefined)
            this.#parsed(resource.storage, bucket, key, entry);
      index = new SecondaryIndex(by, bucket ?? EMPTY_BUCKET);
      indexes.set(by, index);
    }
    return index;
  }

  /**
   * The objects of a resource that `by` files under `filed`, in no particular order, found through
   * an index of the resource by `by` (a module-level function: one index per function), built on
   * the first lookup and kept up to date from then on. For a controller's lookups, like `values`.
   */
  filed(resource: ResourceType, by: IndexKey, filed: string): KubeObject[] {
    const bucket = this.#objects.get(resource.storage);
    if (bucket === undefined) return [];
    const out: KubeObject[] = [];
    for (const key of this.#index(resource, by).keysOf(filed))
      out.push(this.#parsed(resource.storage, bucket, key, bucket.get(key)!));
    return out;
  }

  /**
   * As `filed`, but objects still kept as their stored text are not parsed: for those, their
   * digest. For a reader of the members the resource's `Digest` keeps only (the namespace's
   * oldest Events, cluster/events.ts), which then costs no parse.
   */
  filedDigests(resource: ResourceType, by: IndexKey, filed: string): KubeObject[] {
    if (this.#deferred.size > 0) this.#assertLoaded(resource.storage);
    const bucket = this.#objects.get(resource.storage);
    if (bucket === undefined) return [];
    const out: KubeObject[] = [];
    for (const key of this.#index(resource, by).keysOf(filed)) out.push(digestOf(bucket.get(key)!));
    return out;
  }

  /** How many objects of a resource `by` files under `filed` (as `filed(…).length`, without the array). */
  countFiled(resource: ResourceType, by: IndexKey, filed: string): number {
    return this.#index(resource, by).count(filed);
  }

  #bucket(resource: string): Map<string, Entry> {
    this.#sorted.delete(resource); // every caller is about to change the bucket
    let bucket = this.#objects.get(resource);
    if (bucket === undefined) {
      bucket = new Map();
      this.#objects.set(resource, bucket);
    }
    return bucket;
  }

  get resourceVersion(): string {
    return String(this.meta.resourceVersion);
  }

  get(resource: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const bucket = this.#objects.get(resource.storage);
    const key = keyOf(namespace, name);
    const entry = bucket?.get(key);
    if (entry === undefined) {
      if (this.#deferred.size > 0) this.#assertLoaded(resource.storage, key);
      return undefined;
    }
    return this.#parsed(resource.storage, bucket!, key, entry);
  }

  mustGet(resource: ResourceType, namespace: string, name: string): KubeObject {
    const object = this.get(resource, namespace, name);
    if (object === undefined) throw notFoundError(resource.name, resource.group, name);
    return object;
  }

  /**
   * The objects of a resource, all namespaces, in no particular order: no sort, no copy (for a
   * controller's lookups; what it must not do is write while iterating).
   */
  values(resource: ResourceType): IterableIterator<KubeObject> {
    if (this.#deferred.size > 0) this.#assertLoaded(resource.storage);
    return (this.#parsedBucket(resource.storage) ?? EMPTY_OBJECTS).values();
  }

  /** Objects of a resource (in one namespace, or all), sorted as the API server lists them. */
  list(resource: ResourceType, namespace?: string): KubeObject[] {
    if (this.#deferred.size > 0) this.#assertLoaded(resource.storage);
    const bucket = this.#parsedBucket(resource.storage);
    if (bucket === undefined) return [];
    let sorted = this.#sorted.get(resource.storage);
    if (sorted === undefined) {
      sorted = [...bucket.entries()].sort(byKey).map(entryObject);
      this.#sorted.set(resource.storage, sorted);
    }
    // A copy: callers may keep or change what they get, the cached order stays.
    if (namespace === undefined) return sorted.slice();
    const inNamespace: KubeObject[] = [];
    for (const object of sorted) if (object.metadata.namespace === namespace) inNamespace.push(object);
    return inNamespace;
  }

  #nextRv(): number {
    this.meta.resourceVersion += 1;
    return this.meta.resourceVersion;
  }

  #commit(
    type: EventType,
    resource: ResourceType,
    object: KubeObject,
    previous: KubeObject | undefined,
    rv: number,
  ) {
    if (type !== 'DELETED') assertStorable(object);
    const namespace = object.metadata.namespace ?? '';
    const name = object.metadata.name ?? '';
    const key = keyOf(namespace, name);
    if (type === 'DELETED') this.#bucket(resource.storage).delete(key);
    else this.#bucket(resource.storage).set(key, object);
    this.#reindex(resource.storage, key, previous, type === 'DELETED' ? undefined : object);
    // The replaced version lives on only in the watch log, whose events are written afresh.
    if (previous !== undefined) forgetJson(previous);
    this.#hooks.persistObject(this, resource, namespace, name, type === 'DELETED' ? null : object);
    this.#hooks.persistMeta(this);
    this.#logged({ type, resource, object, previous, rv });
  }

  /** A committed change: into the watch log, to the resource's watchers, then to the controllers. */
  #logged(event: ChangeEvent): void {
    this.#log.push(event);
    if (this.#log.length > WATCH_LOG_SIZE) this.#logStart = this.#log.shift()!.rv;
    for (const watcher of this.watchers) {
      if (watcher.resource === event.resource) watcher.send(event);
    }
    this.#hooks.onChange(this, event);
  }

  /** Events after `rv` for a resource; undefined when `rv` is older than the log (410 Gone). */
  eventsSince(resource: ResourceType, rv: number): ChangeEvent[] | undefined {
    if (rv < this.#logStart) return undefined;
    return this.#log.filter((e) => e.rv > rv && e.resource === resource);
  }

  #validateName(resource: ResourceType, name: string): void {
    const causes: string[] = [];
    if (name === '') causes.push('metadata.name: Required value: name or generateName is required');
    else if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
      causes.push(
        `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      );
    }
    if (causes.length > 0) throw invalidError(resource.kind, resource.group, name, causes);
  }

  create(resource: ResourceType, input: KubeObject, options: WriteOptions = {}): KubeObject {
    const object = options.owned ? shallowCopy(input) : clone(input);
    const metadata = object.metadata;
    if ((metadata.name ?? '') === '' && metadata.generateName !== undefined) {
      metadata.name = `${metadata.generateName}${randomSuffix()}`;
    }
    this.#validateName(resource, metadata.name ?? '');
    const namespace = resource.namespaced ? (metadata.namespace ?? 'default') : '';
    if (resource.namespaced) {
      metadata.namespace = namespace;
      this.#assertNamespace(namespace);
    } else {
      delete metadata.namespace;
    }
    if (
      this.isDeferred(resource, namespace, metadata.name!) ||
      this.get(resource, namespace, metadata.name!) !== undefined
    ) {
      throw alreadyExistsError(resource.name, resource.group, metadata.name!);
    }
    applyDefaults(resource, object);
    if (resource === RESOURCE.services) allocateServiceAddresses(object, this.list(RESOURCE.services));
    initialStatus(resource, object);
    if (options.dryRun) return object;
    const now = this.#hooks.now();
    metadata.uid = randomUUID();
    metadata.creationTimestamp = rfc3339(now);
    if (resource.hasGeneration) metadata.generation = 1;
    if (resource === RESOURCE.daemonsets) setTemplateGeneration(object, 1);
    delete metadata.resourceVersion;
    if (options.manager !== undefined)
      trackCreate(object, options.manager, rfc3339(now), options.sameShapeAs);
    const rv = this.#nextRv();
    metadata.resourceVersion = String(rv);
    const stored = inApiOrder(object);
    this.#commit('ADDED', resource, stored, undefined, rv);
    return stored;
  }

  #assertNamespace(namespace: string): void {
    if (this.get(RESOURCE.namespaces, '', namespace) === undefined) {
      throw new StatusError(404, 'NotFound', `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: 'namespaces',
      });
    }
  }

  /**
   * Creates an object its writer composes as the text `create` would store for it (the JSON of the
   * object in API order, with the uid, resourceVersion and creationTimestamp `compose` is handed,
   * and its managedFields), with its resource's digest. It is kept as text until read, as an
   * object loaded from the store is: neither built, ordered, tracked nor serialized here. For a
   * writer of many objects of one shape, whose create cost several times the text (the Events a
   * cluster records: cluster/events.ts; docs/performance.md, "Fifteenth round"). The checks are
   * `create`'s: a valid and free name, an existing namespace, a storable size. `compose` is given
   * `input` beside the stamp, so a writer passes a module-level function, not a closure made per
   * object (docs/performance.md, "Fourteenth round").
   */
  createText<T>(
    resource: ResourceType,
    namespace: string,
    name: string,
    compose: (stamp: CreationStamp, input: T) => StoredText,
    input: T,
  ): void {
    this.#validateName(resource, name);
    if (resource.namespaced) this.#assertNamespace(namespace);
    const key = keyOf(resource.namespaced ? namespace : '', name);
    if (
      this.#objects.get(resource.storage)?.has(key) === true ||
      this.#deferred.get(resource.storage)?.keys.has(key)
    ) {
      throw alreadyExistsError(resource.name, resource.group, name);
    }
    const rv = this.#nextRv();
    const stored = compose(
      { uid: randomUUID(), resourceVersion: String(rv), creationTimestamp: rfc3339(this.#hooks.now()) },
      input,
    );
    assertStorableText(stored.text);
    // Filed as a loaded object's text is (it has its digest): kept unparsed, indexed by the digest.
    this.#restoreEntry(resource.storage, key, new Unparsed(stored.text, stored.digest));
    this.#hooks.persistObject(this, resource, resource.namespaced ? namespace : '', name, stored);
    this.#hooks.persistMeta(this);
    this.#logged(new TextChange(resource, stored.text, rv));
  }

  /**
   * Replaces an object (PUT semantics). `input.metadata.resourceVersion`, when set, must match.
   * With `subresource: 'status'` only the status changes; otherwise the status is kept for
   * resources that have a status subresource.
   */
  update(resource: ResourceType, input: KubeObject, options: WriteOptions = {}): KubeObject {
    const namespace = resource.namespaced ? (input.metadata.namespace ?? '') : '';
    const name = input.metadata.name ?? '';
    const current = this.mustGet(resource, namespace, name);
    const expected = input.metadata.resourceVersion;
    if (expected !== undefined && expected !== '' && expected !== current.metadata.resourceVersion) {
      throw conflictError(resource.name, resource.group, name);
    }
    // Parts taken from `current` are shared, not copied: stored objects are never changed in place.
    let object: KubeObject;
    if (options.subresource === 'status') {
      object = shallowCopy(current);
      object.status = options.owned ? input.status : clone(input.status);
    } else {
      object = options.owned ? shallowCopy(input) : clone(input);
      if (resource.hasStatus && options.internal !== true) {
        if (current.status === undefined) delete object.status;
        else object.status = current.status;
      }
    }
    if (options.subresource !== 'status') applyDefaults(resource, object);
    if (resource === RESOURCE.services && options.subresource !== 'status')
      keepServiceAddresses(object, current);
    const metadata = object.metadata;
    metadata.uid = current.metadata.uid;
    metadata.creationTimestamp = current.metadata.creationTimestamp;
    if (resource.namespaced) metadata.namespace = namespace;
    else delete metadata.namespace;
    if (current.metadata.deletionTimestamp !== undefined) {
      metadata.deletionTimestamp = current.metadata.deletionTimestamp;
      if (current.metadata.deletionGracePeriodSeconds !== undefined)
        metadata.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds;
    }
    if ((metadata.managedFields ?? []).length === 0 && current.metadata.managedFields !== undefined) {
      metadata.managedFields = current.metadata.managedFields;
    }
    if (resource.hasGeneration) {
      const generation = current.metadata.generation ?? 1;
      metadata.generation = deepEqual(object.spec, current.spec) ? generation : generation + 1;
    }
    metadata.resourceVersion = current.metadata.resourceVersion;
    const now = this.#hooks.now();
    if (options.manager !== undefined) {
      trackUpdate(current, object, options.manager, rfc3339(now), options.subresource);
    }
    // After the field manager: the API server's own bookkeeping changes no field's owner.
    if (resource === RESOURCE.daemonsets && options.subresource !== 'status') {
      const previous = Number(current.metadata.annotations?.[TEMPLATE_GENERATION] ?? 1) || 1;
      const changed = !deepEqual(
        (object.spec as JsonObject | undefined)?.template,
        (current.spec as JsonObject | undefined)?.template,
      );
      setTemplateGeneration(object, changed ? previous + 1 : previous);
    }
    if (deepEqual(object, current)) return current; // a no-op write does not bump resourceVersion
    if (options.dryRun) return object;
    const rv = this.#nextRv();
    metadata.resourceVersion = String(rv);
    const stored = inApiOrder(object);
    if (options.manager !== undefined) markTracked(stored);
    this.#commit('MODIFIED', resource, stored, current, rv);
    return stored;
  }

  /**
   * Deletes an object. With `graceful`, a pod bound to a node and not finished is only marked
   * (`deletionTimestamp`, `deletionGracePeriodSeconds`: kube-apiserver's graceful deletion) and
   * stays, Terminating, until its kubelet deletes it; `gracePeriodSeconds` (DeleteOptions) 0 deletes
   * at once, unset takes the pod's `terminationGracePeriodSeconds`.
   */
  delete(
    resource: ResourceType,
    namespace: string,
    name: string,
    options: { dryRun?: boolean; uid?: string; graceful?: boolean; gracePeriodSeconds?: number } = {},
  ): KubeObject {
    const current = this.mustGet(resource, namespace, name);
    if (options.uid !== undefined && options.uid !== current.metadata.uid) {
      throw new StatusError(
        409,
        'Conflict',
        `Precondition failed: UID in precondition: ${options.uid}, UID in object meta: ${current.metadata.uid}`,
      );
    }
    if (options.graceful === true && resource === RESOURCE.pods) {
      const grace = podGracePeriod(current, options.gracePeriodSeconds);
      if (grace > 0) {
        if (current.metadata.deletionTimestamp !== undefined) return current;
        const object = shallowCopy(current);
        object.metadata.deletionTimestamp = rfc3339(new Date(this.#hooks.now().getTime() + grace * 1000));
        object.metadata.deletionGracePeriodSeconds = grace;
        if (options.dryRun) return object;
        const rv = this.#nextRv();
        object.metadata.resourceVersion = String(rv);
        const stored = inApiOrder(object);
        this.#commit('MODIFIED', resource, stored, current, rv);
        return stored;
      }
    }
    if (options.dryRun) return current;
    if (resource === RESOURCE.pods) this.containerLogs.delete(current.metadata.uid ?? '');
    const rv = this.#nextRv();
    const object = shallowCopy(current);
    object.metadata.resourceVersion = String(rv);
    this.#commit('DELETED', resource, object, current, rv);
    return object;
  }

  /** Sets the cluster's version and node count; returns whether they changed. */
  reshape(version: string, nodeCount: number): boolean {
    if (this.meta.version === version && this.meta.nodeCount === nodeCount) return false;
    this.meta.version = version;
    this.meta.nodeCount = nodeCount;
    this.#hooks.persistMeta(this);
    return true;
  }

  /** Marks controller work in flight (persisted, so a restarted process resumes it). */
  setBusy(busy: boolean): void {
    if (this.meta.busy === busy) return;
    this.meta.busy = busy;
    this.#hooks.persistMeta(this);
  }

  closeWatchers(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers.clear();
  }
}

/**
 * The grace period of a pod's deletion (kube-apiserver's pod strategy): the one asked for, else
 * the pod's `terminationGracePeriodSeconds` (30 by default); 0 for a pod no kubelet runs (not bound
 * to a node, or finished).
 */
function podGracePeriod(pod: KubeObject, asked: number | undefined): number {
  const spec = (pod.spec ?? {}) as JsonObject;
  const phase = ((pod.status ?? {}) as JsonObject).phase;
  if (spec.nodeName === undefined || spec.nodeName === '' || phase === 'Succeeded' || phase === 'Failed')
    return 0;
  const grace = asked ?? Number(spec.terminationGracePeriodSeconds ?? 30);
  return Number.isFinite(grace) ? Math.max(0, Math.trunc(grace)) : 30;
}

/** A map of container logs that hands every change to `persist`. */
class ContainerLogs extends Map<string, string> {
  readonly #persist: (podUid: string, log: string | null) => void;

  constructor(persist: (podUid: string, log: string | null) => void) {
    super();
    this.#persist = persist;
  }

  override set(podUid: string, log: string): this {
    super.set(podUid, log);
    this.#persist(podUid, log);
    return this;
  }

  override delete(podUid: string): boolean {
    const had = super.delete(podUid);
    if (had) this.#persist(podUid, null);
    return had;
  }
}

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The 5-character suffix apiserver's generateName uses (no vowels, no ambiguous digits). */
export function randomSuffix(length = 5): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(Math.random() * ALPHABET.length)];
  return out;
}
