/**
 * Field ownership (`metadata.managedFields`): who set which field, as Update (create, PUT,
 * non-apply PATCH) or Apply, and server-side apply on top of it. Fields are told apart as
 * kube-apiserver's structured-merge-diff does for the served kinds (field-shapes.ts): items of
 * keyed lists one by one (`k:{"name":"kube-proxy"}`), atomic structs, maps and other lists whole.
 * A status subresource write owns `status` fields; the main resource never does.
 */
import { BoundedMap } from '../../bounded-map.ts';
import { memberShape, rootShape, type Shape } from './field-shapes.ts';
import {
  clone,
  deepEqual,
  deepFreeze,
  fieldsV1Json,
  isObject,
  type Json,
  type JsonObject,
  type KubeObject,
  keepFieldsV1Json,
  StatusError,
} from './objects.ts';

/** Fields nobody owns: identity and server-set metadata. */
const UNTRACKED_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
]);

/** A nested ObjectMeta's zero creationTimestamp (a template's): written, but nobody's field. */
const isZeroTimestamp = (key: string, value: Json | undefined) =>
  key === 'creationTimestamp' && value === null;

const MAP_SHAPE: Shape = { dot: true };

/** The last segment of the path of a map, item or list itself (fieldsV1's `.`). */
const SELF = '.';
const isSelf = (encoded: string): boolean => encoded.endsWith(',"."]');

/** The path segment of a list item: its merge keys, as fieldsV1 names it (`k:{"name":"a"}`). */
const itemSegment = (keys: readonly string[], item: JsonObject): string =>
  `k:${JSON.stringify(Object.fromEntries(keys.map((key) => [key, item[key] ?? null])))}`;

const isItemSegment = (segment: string): boolean => segment.startsWith('k:{');

/**
 * Path segments as the walk appends them (JSON texts), kept by what they are made of: the objects
 * a fleet's clusters write share their members' names and most list items' keys, and encoding
 * them afresh (a `JSON.stringify` per member, two and a `fromEntries` per item) was a third of the
 * walk (docs/performance.md, "Seventh round: the emulator's rollout"). Bounded: past the bound it
 * starts over.
 */
const memberTexts = new BoundedMap<string, string>(4_096);
const itemTexts = new BoundedMap<string, string>(4_096);

/** `JSON.stringify(key)`, kept. */
function memberText(key: string): string {
  let text = memberTexts.get(key);
  if (text === undefined) {
    text = JSON.stringify(key);
    memberTexts.set(key, text);
  }
  return text;
}

/** `JSON.stringify(itemSegment(keys, item))`, kept for an item of one merge key whose value is a string or number. */
function itemText(keys: readonly string[], item: JsonObject): string {
  const value = keys.length === 1 ? item[keys[0]!] : undefined;
  if (typeof value !== 'string' && typeof value !== 'number') return JSON.stringify(itemSegment(keys, item));
  // Merge keys are the shapes' own names (no NUL); the type tag keeps "1" and 1 apart.
  const memo = `${keys[0]}\u0000${typeof value === 'string' ? 's' : 'n'}${value}`;
  let text = itemTexts.get(memo);
  if (text === undefined) {
    text = JSON.stringify(itemSegment(keys, item));
    itemTexts.set(memo, text);
  }
  return text;
}

/** Whether `value` is a list whose every item has its merge keys (else it is owned whole). */
function keyedList(shape: Shape, value: Json | undefined): value is JsonObject[] {
  const keys = shape.keys;
  if (keys === undefined || !Array.isArray(value) || value.length === 0) return false;
  // Loops, not `every` with closures made per call (docs/performance.md, "Fourteenth round").
  for (const item of value) {
    if (!isObject(item)) return false;
    for (const key of keys) if (item[key] === undefined || item[key] === null) return false;
  }
  return true;
}

/**
 * Leaf paths (JSON-encoded segment arrays) of an object, by the shapes of its kind: the main
 * resource's (`status` left out) or the status subresource's (only `status`). Items of keyed
 * lists are reached by their merge keys; atomic values, other lists and empty maps are leaves.
 * A map, item or keyed list that has members is there itself too, as its path followed by '.'
 * (value `true`): whoever made it owns it (fieldsV1's `.`), not whoever only added to it.
 */
export function leafPaths(object: JsonObject, part: 'main' | 'status' = 'main'): Map<string, Json> {
  const walk = new LeafWalk(part);
  walk.walk(object, '[', 0, false, rootShape(String(object.kind ?? '')));
  return walk.out;
}

/**
 * One `leafPaths` walk. A class rather than closures made per call: V8 keeps a function's
 * optimized code only while a function object uses it, so the walk's closures lost theirs at
 * every full collection and were compiled again (docs/performance.md, "Fourteenth round").
 */
class LeafWalk {
  readonly out = new Map<string, Json>();
  // The leaves in the order they are found, so that a big subtree's can be kept (`walked`).
  readonly paths: string[] = [];
  readonly values: Json[] = [];
  /** Subtrees whose leaves were taken from `walked`: a subtree holding one is not kept itself. */
  reused = 0;
  readonly part: 'main' | 'status';

  constructor(part: 'main' | 'status') {
    this.part = part;
  }

  leaf(path: string, value: Json): void {
    this.out.set(path, value);
    this.paths.push(path);
    this.values.push(value);
  }

  // A path is carried as its JSON text without the closing bracket (`["a","b"`), one segment
  // appended at a time: the same text as JSON.stringify of the segments, without an array and a
  // stringify of the whole path per member.
  walk(value: Json, open: string, depth: number, inMetadata: boolean, shape: Shape): void {
    if (depth > 0 && shape.atomic === true) {
      this.leaf(`${open}]`, value);
    } else if (isObject(value) && hasMember(value)) {
      // Below the top two levels the leaves depend only on the subtree, its path and its shape.
      if (depth > 1) {
        const known = walked.get(value);
        if (known !== undefined && known.shape === shape && known.open === open) {
          for (let i = 0; i < known.paths.length; i++) this.leaf(known.paths[i]!, known.values[i]!);
          this.reused += 1;
          return;
        }
      }
      const start = this.paths.length;
      const reusedBefore = this.reused;
      if (depth > 0 && shape.dot) this.leaf(`${open},"."]`, true);
      // No key array: this runs for every member of every object a managed write walks.
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        const child = value[key];
        if (child === undefined || isZeroTimestamp(key, child)) continue;
        if (depth === 0) {
          if (key === 'apiVersion' || key === 'kind') continue;
          if ((key === 'status') !== (this.part === 'status')) continue;
        }
        if (inMetadata && UNTRACKED_METADATA.has(key)) continue;
        this.walk(
          child,
          `${open}${depth === 0 ? '' : ','}${memberText(key)}`,
          depth + 1,
          depth === 0 && key === 'metadata',
          memberShape(shape, key, depth === 0),
        );
      }
      if (depth > 1 && this.reused === reusedBefore && this.paths.length - start >= WALKED_MIN_LEAVES)
        walked.set(value, {
          open,
          shape,
          paths: this.paths.slice(start),
          values: this.values.slice(start),
        });
    } else if (depth > 0 && keyedList(shape, value)) {
      if (shape.dot) this.leaf(`${open},"."]`, true);
      for (const item of value)
        this.walk(item, `${open},${itemText(shape.keys!, item)}`, depth + 1, false, shape.item ?? MAP_SHAPE);
    } else if (depth > 0) {
      this.leaf(`${open}]`, value);
    }
  }
}

/**
 * The leaves of big subtrees already walked (a DaemonSet's pod template spec), by subtree: the
 * versions of an object share the parts a write leaves alone (status writes, patches), so the
 * field manager's walks of the version it replaces and of the new one find the same subtree again
 * and take its paths (texts already built and hashed) instead of building them afresh: building
 * them was most of a DaemonSet patch's cost (docs/performance.md, "Seventh round: the emulator's
 * rollout"). Kept while the subtree lives: stored objects are never changed in place, and the
 * walks' other inputs (new objects a write builds) are not changed after it. Small subtrees are
 * not kept (their walk costs about what the record would), nor one that holds a kept one (a
 * DaemonSet's new template around its kept spec: the watch log keeps every version's template,
 * and each would hold a record of the same paths).
 */
const walked = new WeakMap<
  object,
  { readonly open: string; readonly shape: Shape; readonly paths: string[]; readonly values: Json[] }
>();
const WALKED_MIN_LEAVES = 16;

/** Whether an object has a member (Object.keys(…).length > 0, without the array). */
function hasMember(value: JsonObject): boolean {
  for (const _ in value) return true;
  return false;
}

/** Paths' segments by their JSON text: a fleet's objects share their shapes, so their paths. */
const segmentsMemo = new BoundedMap<string, readonly string[]>(16_384);

/** The segments of a JSON-encoded path (read-only: shared). */
function segmentsOf(path: string): readonly string[] {
  let segments = segmentsMemo.get(path);
  if (segments === undefined) {
    segments = Object.freeze(JSON.parse(path) as string[]);
    segmentsMemo.set(path, segments);
  }
  return segments;
}

/** The merge keys a `k:{…}` segment names, by its text (shared, like the paths': read-only). */
const itemKeysMemo = new BoundedMap<string, readonly (readonly [string, Json])[]>(16_384);

/** The item of `list` a `k:{…}` segment names. */
function itemAt(list: Json[], segment: string): JsonObject | undefined {
  let keys = itemKeysMemo.get(segment);
  if (keys === undefined) {
    keys = Object.freeze(Object.entries(JSON.parse(segment.slice(2)) as JsonObject));
    itemKeysMemo.set(segment, keys);
  }
  return list.find(
    (item): item is JsonObject => isObject(item) && keys.every(([key, value]) => deepEqual(item[key], value)),
  );
}

function valueAt(object: Json, path: readonly string[]): Json | undefined {
  let node: Json | undefined = object;
  for (const part of path) {
    if (part === SELF) continue;
    if (Array.isArray(node) && isItemSegment(part)) node = itemAt(node, part);
    else node = isObject(node) ? node[part] : undefined;
  }
  return node;
}

function removeMember(parent: Json, segment: string): void {
  if (Array.isArray(parent)) {
    const item = itemAt(parent, segment);
    if (item !== undefined) parent.splice(parent.indexOf(item), 1);
  } else if (isObject(parent)) delete parent[segment];
}

function deleteAt(object: JsonObject, path: readonly string[]): void {
  const nodes: Json[] = [object];
  let node: Json | undefined = object;
  for (const part of path.slice(0, -1)) {
    node = valueAt(node, [part]);
    if (node === undefined || node === null || typeof node !== 'object') return;
    nodes.push(node);
  }
  removeMember(nodes.at(-1)!, path.at(-1)!);
  // Drop maps and items the removal left empty (as apply does), but never metadata itself.
  for (let i = nodes.length - 1; i > 0; i--) {
    const emptied = nodes[i]!;
    if (!isObject(emptied) || Object.keys(emptied).length > 0 || (i === 1 && path[0] === 'metadata')) break;
    removeMember(nodes[i - 1]!, path[i - 1]!);
  }
}

/** How a path reads in a conflict: `.spec.containers[name="kube-proxy"].image`. */
function fieldPath(path: readonly string[]): string {
  return path
    .map((part) =>
      isItemSegment(part)
        ? `[${Object.entries(JSON.parse(part.slice(2)) as JsonObject)
            .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
            .join(',')}]`
        : `.${part}`,
    )
    .join('');
}

interface ManagerEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  /** Shared with the fieldsV1 tree it was read from until it changes (`ownPaths`): read-only here. */
  paths: ReadonlySet<string>;
  /** The frozen fieldsV1 tree `paths` was read from, while they are unchanged: written back as is. */
  fieldsV1?: JsonObject;
  subresource?: string;
}

/** The entry's paths, to change: copied from the tree's (shared) on the first change. */
function ownPaths(entry: ManagerEntry): Set<string> {
  if (entry.fieldsV1 !== undefined) {
    entry.paths = new Set(entry.paths);
    entry.fieldsV1 = undefined;
  }
  return entry.paths as Set<string>;
}

/**
 * fieldsV1 trees already built, by their set of paths (sorted, one per line). Objects of one kind
 * written by one manager share a few shapes (every Event, every kube-proxy pod of a DaemonSet), and
 * an entry an update leaves alone has the paths it had: each tree is built once and shared, frozen
 * (an object's managedFields are replaced on a write, never changed in place). Bounded: past
 * 1,024 shapes it starts over.
 */
const fieldsMemo = new BoundedMap<string, JsonObject>(1_024);

/** The paths read from a fieldsV1 tree this module built (frozen), to copy instead of walking it again. */
const pathsOfFields = new WeakMap<object, ReadonlySet<string>>();

/** The fieldsV1 of a set of leaf paths: `f:` members, `k:` items and `.`, keys in byte order. */
function toFieldsV1(paths: ReadonlySet<string>): JsonObject {
  // The paths in the order they come (not sorted): one set may then be kept under a few keys, each
  // built to the same tree, which costs less than sorting every write's paths.
  const key = [...paths].join('\n');
  const known = fieldsMemo.get(key);
  if (known !== undefined) return known;
  const tree: JsonObject = {};
  for (const encoded of paths) {
    const path = JSON.parse(encoded) as string[];
    let node = tree;
    for (const part of path) {
      const member = part === SELF || isItemSegment(part) ? part : `f:${part}`;
      if (!isObject(node[member])) node[member] = {};
      node = node[member] as JsonObject;
    }
  }
  const fields = deepFreeze(sortedFields(tree));
  fieldsMemo.set(key, fields);
  return fields;
}

/** A fieldsV1 tree with its keys in byte order, as structured-merge-diff writes it. */
function sortedFields(node: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(node).sort()) {
    const child = node[key];
    out[key] = isObject(child) ? sortedFields(child) : (child ?? {});
  }
  return out;
}

/**
 * The leaf paths of a fieldsV1 tree. For a tree this module built (frozen) the set is shared: the
 * caller must not change it (`ownPaths` copies it first).
 */
export function fromFieldsV1(fields: Json | undefined): ReadonlySet<string> {
  const ours = isObject(fields) && Object.isFrozen(fields) ? fields : undefined;
  const known = ours === undefined ? undefined : pathsOfFields.get(ours);
  if (known !== undefined) return known;
  const out = new Set<string>();
  // As `leafPaths`, a path is carried as its JSON text without the closing bracket (`["a","b"`),
  // its segments' texts kept (`memberText`): the same text as JSON.stringify of the segments,
  // without an array per node and a stringify of the whole path per leaf. The trees of a cluster
  // read back from the store are parsed, not this module's (frozen, known): each is walked on its
  // object's first write after a load (docs/performance.md, "Ninth round: the emulator's main
  // thread").
  if (isObject(fields)) walkFields(out, fields, '[', 0);
  if (ours !== undefined) pathsOfFields.set(ours, out);
  return out;
}

/** `fromFieldsV1`'s walk (module-level: see `LeafWalk`). */
function walkFields(out: Set<string>, node: JsonObject, open: string, depth: number): void {
  // Set items (`v:`) and positions (`i:`) are not told apart here: their list is owned whole.
  let children = 0;
  for (const key in node) {
    if (!Object.hasOwn(node, key)) continue;
    if (depth > 0 && isSetOrPosition(key)) {
      out.add(`${open}]`);
      return;
    }
    if (isChild(key)) children += 1;
  }
  const self = isObject(node[SELF]);
  if (depth > 0 && children === 0 && !self) {
    out.add(`${open}]`);
    return;
  }
  if (depth > 0 && self) out.add(`${open},"."]`);
  for (const key in node) {
    if (!Object.hasOwn(node, key) || !isChild(key)) continue;
    const child = node[key];
    if (!isObject(child)) continue;
    // Member names are few and shared (kept); item keys name uids and values (not kept).
    const segment = key.startsWith('f:') ? memberText(key.slice(2)) : JSON.stringify(key);
    walkFields(out, child, depth === 0 ? `${open}${segment}` : `${open},${segment}`, depth + 1);
  }
}

const isSetOrPosition = (key: string): boolean => key.startsWith('v:') || key.startsWith('i:');
const isChild = (key: string): boolean => key.startsWith('f:') || key.startsWith('k:');

function readManagers(object: KubeObject): ManagerEntry[] {
  return (object.metadata.managedFields ?? []).filter(isObject).map((entry) => {
    const fields = entry.fieldsV1;
    const paths = fromFieldsV1(fields);
    return {
      manager: String(entry.manager ?? ''),
      operation: entry.operation === 'Apply' ? 'Apply' : 'Update',
      apiVersion: String(entry.apiVersion ?? object.apiVersion),
      time: String(entry.time ?? ''),
      paths,
      // A tree this module built gives back the same tree while its paths stay as they are.
      ...(isObject(fields) && pathsOfFields.get(fields) === paths ? { fieldsV1: fields } : {}),
      ...(typeof entry.subresource === 'string' ? { subresource: entry.subresource } : {}),
    };
  });
}

/** kube-apiserver's order of managedFields entries: operation, time, manager, subresource. */
const entryOrder = (a: ManagerEntry, b: ManagerEntry): number =>
  a.operation.localeCompare(b.operation) ||
  a.time.slice(0, 19).localeCompare(b.time.slice(0, 19)) ||
  (a.manager < b.manager ? -1 : a.manager > b.manager ? 1 : 0) ||
  (a.subresource ?? '').localeCompare(b.subresource ?? '');

function writeManagers(object: KubeObject, entries: ManagerEntry[]): void {
  const kept = entries.filter((e) => e.paths.size > 0).sort(entryOrder);
  if (kept.length === 0) {
    delete object.metadata.managedFields;
    return;
  }
  object.metadata.managedFields = kept.map((e) => managedFieldsEntry(e, e.fieldsV1 ?? toFieldsV1(e.paths)));
}

function managedFieldsEntry(e: Omit<ManagerEntry, 'paths' | 'fieldsV1'>, fieldsV1: JsonObject): JsonObject {
  return {
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    time: e.time,
    fieldsType: 'FieldsV1',
    fieldsV1,
    ...(e.subresource === undefined ? {} : { subresource: e.subresource }),
  };
}

/**
 * What `trackUpdate(undefined, object, manager, time)` records for a create, when the caller
 * knows the fieldsV1 it gives: `sameShapeAs`, that of an object of the same shape (the same leaf
 * paths) it created before. Objects a controller composes from one template (its Events) then
 * cost one walk per shape, not one each.
 */
export function trackCreate(
  object: KubeObject,
  manager: string,
  time: string,
  sameShapeAs?: JsonObject,
): void {
  if (sameShapeAs === undefined) trackUpdate(undefined, object, manager, time);
  else
    object.metadata.managedFields = [
      managedFieldsEntry({ manager, operation: 'Update', apiVersion: object.apiVersion, time }, sameShapeAs),
    ];
}

/**
 * The fieldsV1 trees of objects created by a controller, by a shape key the controller composes
 * (what decides the object's leaf paths: its template, which optional members it has): the first
 * object of a shape is walked (`trackCreate` without a tree), the next take its tree. Bounded.
 */
export class FieldsByShape {
  readonly #trees: BoundedMap<string, JsonObject>;
  /** The trees `get` made for an owner, by shape and uid: a DaemonSet's pods share one. */
  readonly #owned: BoundedMap<string, JsonObject>;

  constructor(max: number) {
    this.#trees = new BoundedMap(max);
    this.#owned = new BoundedMap(max);
  }

  /**
   * The tree for `create`'s `sameShapeAs`; undefined for a shape not seen yet. With `ownerUid`,
   * for objects whose one owner reference is all that tells their paths apart from others of the
   * shape (a DaemonSet's pods and revisions: the list is keyed by uid, so the owner's uid is in
   * a path): the shape's tree with that item's key naming `ownerUid`, so one DaemonSet's pods
   * serve every DaemonSet of the same template (a fleet's clusters); undefined when the shape's
   * tree does not have exactly one owner reference.
   */
  get(shape: string, ownerUid?: string): JsonObject | undefined {
    const tree = this.#trees.get(shape);
    if (tree === undefined || ownerUid === undefined) return tree;
    const key = `${shape}\n${ownerUid}`;
    let owned = this.#owned.get(key);
    if (owned === undefined) {
      owned = withOwner(tree, ownerUid);
      if (owned !== undefined) this.#owned.set(key, owned);
    }
    return owned;
  }

  /** Remembers the tree of `created`, the first object of its shape, created by one manager. */
  learn(shape: string, created: KubeObject): void {
    if (this.#trees.has(shape)) return;
    const entries = created.metadata.managedFields ?? [];
    const fields = entries.length === 1 ? entries[0]?.fieldsV1 : undefined;
    if (isObject(fields)) this.#trees.set(shape, fields);
  }
}

/** `node`, frozen, with `key`'s value replaced, in the same place. */
function replaced(node: JsonObject, key: string, value: Json): JsonObject {
  const out: JsonObject = {};
  for (const k in node) if (Object.hasOwn(node, k)) out[k] = k === key ? value : node[k]!;
  return Object.freeze(out);
}

/**
 * `tree` with its one `metadata.ownerReferences` item's key (`k:{"uid":…}`) naming `uid`: the
 * tree the field manager's walk gives an object that differs from `tree`'s only in its owner's
 * uid (the item's members are the same fields; the list's keys, `.` and the one item, keep their
 * byte order). The parts around the item are new (frozen), the rest shared.
 */
function withOwner(tree: JsonObject, uid: string): JsonObject | undefined {
  const metadata = tree['f:metadata'];
  const owners = isObject(metadata) ? metadata['f:ownerReferences'] : undefined;
  if (!isObject(owners)) return undefined;
  const keys = Object.keys(owners);
  const [self, known] = keys;
  if (keys.length !== 2 || self !== SELF || !known?.startsWith('k:{"uid":')) return undefined;
  const item = `k:${JSON.stringify({ uid })}`;
  if (known === item) return tree;
  // The same item's members under the new key, in the same place (after `.`).
  const renamed = Object.freeze({ [SELF]: owners[SELF]!, [item]: owners[known]! });
  const owned = replaced(tree, 'f:metadata', replaced(metadata as JsonObject, 'f:ownerReferences', renamed));
  // Its text is the tree's with that one key renamed: a key is the only string of a fieldsV1
  // text, and no other path is the owner reference's item.
  keepFieldsV1Json(owned, fieldsV1Json(tree).replace(JSON.stringify(known), JSON.stringify(item)));
  return owned;
}

/**
 * Records an Update (create, PUT, non-apply PATCH) by `manager`: it takes the fields whose value
 * it changed; fields that disappeared are owned by nobody any more. With `subresource` 'status',
 * `after` is `before` with another status (the store's status write): nothing else changed.
 */
export function trackUpdate(
  before: KubeObject | undefined,
  after: KubeObject,
  manager: string,
  time: string,
  subresource?: string,
): void {
  const part = subresource === 'status' ? 'status' : 'main';
  const entries = before === undefined ? [] : readManagers(before);
  const oldLeaves =
    before === undefined ? new Map<string, Json>() : leafPaths(before as unknown as JsonObject, part);
  const newLeaves = leafPaths(after as unknown as JsonObject, part);
  const changed: string[] = [];
  for (const [path, value] of newLeaves) if (!deepEqual(oldLeaves.get(path), value)) changed.push(path);
  const changedSet = new Set(changed);
  // A status write leaves the rest as it was: in an object every path of whose owners is there
  // (`tracked`), the paths outside status are there still.
  const mainKept = part === 'status' && before !== undefined && tracked.has(before);
  for (const entry of entries) {
    const gone: string[] = [];
    for (const path of entry.paths) {
      if (changedSet.has(path)) gone.push(path);
      // A leaf of the new object is there; anything else is looked up.
      else if (newLeaves.get(path) !== undefined) continue;
      else if (mainKept && !path.startsWith(STATUS_PATH)) continue;
      else if (valueAt(after as unknown as JsonObject, segmentsOf(path)) === undefined) gone.push(path);
    }
    if (gone.length > 0) {
      const paths = ownPaths(entry);
      for (const path of gone) paths.delete(path);
    }
  }
  if (changed.length > 0) {
    let mine: ManagerEntry | undefined;
    for (const e of entries) {
      if (e.manager === manager && e.operation === 'Update' && e.subresource === subresource) {
        mine = e;
        break;
      }
    }
    if (mine === undefined) {
      mine = {
        manager,
        operation: 'Update',
        apiVersion: after.apiVersion,
        time,
        paths: new Set(),
        ...(subresource === undefined ? {} : { subresource }),
      };
      entries.push(mine);
    }
    mine.time = time;
    const paths = ownPaths(mine);
    for (const path of changed) paths.add(path);
  }
  writeManagers(after, entries);
}

/** The text every path under `status` starts with (paths are JSON arrays of segments). */
const STATUS_PATH = '["status"';

/**
 * Stored objects as `trackUpdate` left them: every path of every managedFields entry is in the
 * object (it drops the others and adds only the new object's leaves). A write without a field
 * manager keeps the entries whatever it changes, so its object is not among them.
 */
const tracked = new WeakSet<object>();

/**
 * Marks `stored`, the object the store keeps for a write `trackUpdate` recorded (the same content:
 * the store only orders its members), so that the next status write of it skips looking up the
 * paths outside status.
 */
export function markTracked(stored: KubeObject): void {
  tracked.add(stored);
}

/**
 * Server-side apply of `applied` by `manager` onto `current` (undefined: create). Returns the new
 * object. Throws a 409 listing the conflicting managers unless `force`.
 */
export function serverSideApply(
  current: KubeObject | undefined,
  applied: JsonObject,
  manager: string,
  force: boolean,
  time: string,
): KubeObject {
  const base: KubeObject =
    current === undefined
      ? { apiVersion: String(applied.apiVersion), kind: String(applied.kind), metadata: {} }
      : clone(current);
  const entries = readManagers(base);
  const appliedLeaves = leafPaths(applied);
  const conflicts = new Map<string, string[]>();
  for (const [path, value] of appliedLeaves) {
    // A map's or item's own presence never conflicts: only values do.
    if (isSelf(path)) continue;
    const currentValue = valueAt(base as unknown as JsonObject, segmentsOf(path));
    if (currentValue === undefined || deepEqual(currentValue, value)) continue;
    for (const entry of entries) {
      if (entry.manager === manager && entry.operation === 'Apply') continue;
      if (!entry.paths.has(path)) continue;
      const field = fieldPath(segmentsOf(path));
      const key = `${entry.manager}" using ${entry.apiVersion}`;
      conflicts.set(key, [...(conflicts.get(key) ?? []), field]);
    }
  }
  if (conflicts.size > 0 && !force) {
    const count = [...conflicts.values()].reduce((n, fields) => n + fields.length, 0);
    const causes: JsonObject[] = [];
    const lines: string[] = [];
    for (const [who, fields] of conflicts) {
      for (const field of fields) {
        causes.push({ type: 'FieldManagerConflict', message: `conflict with "${who}`, field });
      }
      lines.push(
        fields.length === 1 && conflicts.size === 1 && count === 1
          ? `conflict with "${who}: ${fields[0]}`
          : `conflicts with "${who}:\n${fields.map((f) => `- ${f}`).join('\n')}`,
      );
    }
    throw new StatusError(
      409,
      'Conflict',
      `Apply failed with ${count} conflict${count === 1 ? '' : 's'}: ${lines.join('\n')}`,
      { causes },
    );
  }

  // Fields this manager applied before and no longer applies are removed, unless someone else owns them.
  let mine = entries.find((e) => e.manager === manager && e.operation === 'Apply');
  if (mine !== undefined) {
    for (const path of mine.paths) {
      if (appliedLeaves.has(path) || isSelf(path)) continue;
      if (entries.some((e) => e !== mine && e.paths.has(path))) continue;
      deleteAt(base as unknown as JsonObject, segmentsOf(path));
    }
  } else {
    mine = {
      manager,
      operation: 'Apply',
      apiVersion: String(applied.apiVersion ?? base.apiVersion),
      time,
      paths: new Set(),
    };
    entries.push(mine);
  }
  const merged = mergeApplied(
    base as unknown as JsonObject,
    applied,
    rootShape(base.kind),
    true,
  ) as unknown as KubeObject;
  for (const entry of entries) {
    if (entry === mine) continue;
    for (const [path, value] of appliedLeaves) {
      if (isSelf(path)) continue;
      const before = valueAt(base as unknown as JsonObject, segmentsOf(path));
      if ((force || !deepEqual(before, value)) && entry.paths.has(path)) ownPaths(entry).delete(path);
    }
  }
  mine.paths = new Set(appliedLeaves.keys());
  mine.fieldsV1 = undefined;
  mine.time = time;
  merged.metadata = { ...(merged.metadata ?? {}) };
  writeManagers(merged, entries);
  return merged;
}

/** `applied` merged into `target`: maps member by member, keyed lists item by item, the rest replaced. */
function mergeApplied(target: JsonObject, applied: JsonObject, shape: Shape, atRoot: boolean): JsonObject {
  const result = clone(target);
  for (const [key, value] of Object.entries(applied)) {
    if (atRoot && key === 'status') continue;
    const member = memberShape(shape, key, atRoot);
    const current = result[key];
    if (value === null) delete result[key];
    else if (member.atomic !== true && isObject(value) && isObject(current))
      result[key] = mergeApplied(current, value, member, false);
    else if (keyedList(member, value) && keyedList(member, current))
      result[key] = mergeItems(current, value, member);
    else result[key] = clone(value);
  }
  return result;
}

/** A keyed list's items merged by key: the live ones in their order, then the new ones. */
function mergeItems(current: JsonObject[], applied: JsonObject[], shape: Shape): JsonObject[] {
  const keys = shape.keys!;
  const item = shape.item ?? MAP_SHAPE;
  const segment = (value: JsonObject) => itemSegment(keys, value);
  const appliedBy = new Map(applied.map((value) => [segment(value), value]));
  const merged = current.map((live) => {
    const given = appliedBy.get(segment(live));
    appliedBy.delete(segment(live));
    return given === undefined ? live : mergeApplied(live, given, item, false);
  });
  return [...merged, ...[...appliedBy.values()].map((value) => clone(value))];
}
