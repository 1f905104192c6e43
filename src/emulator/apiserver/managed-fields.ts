/**
 * Field ownership (`metadata.managedFields`): who set which field, as Update (create, PUT,
 * non-apply PATCH) or Apply, and server-side apply on top of it. Lists are atomic for ownership,
 * which is exact for what mks applies (ConfigMap `data` keys) and close enough for the rest.
 */
import {
  clone,
  deepEqual,
  isObject,
  type Json,
  type JsonObject,
  type KubeObject,
  StatusError,
} from './objects.ts';

/** Fields nobody owns: identity and server-set metadata, and status on the main resource. */
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

/**
 * Top-level members that are maps in the Go types (a ConfigMap's or Secret's data), owned as a
 * whole ('.') besides their keys; the others (metadata, spec) are structs, which are not.
 */
const TOP_LEVEL_MAPS = new Set(['data', 'binaryData', 'stringData']);

/** A nested ObjectMeta's zero creationTimestamp (a template's): written, but nobody's field. */
const isZeroTimestamp = (key: string, value: Json | undefined) =>
  key === 'creationTimestamp' && value === null;

/** Leaf paths (JSON-encoded key arrays) of an object; arrays and empty maps are leaves. */
export function leafPaths(object: JsonObject): Map<string, Json> {
  const out = new Map<string, Json>();
  // `encoded` is the path's JSON text without its brackets, extended one key at a time.
  const walk = (value: Json, encoded: string, depth: number, top: string) => {
    if (isObject(value) && Object.keys(value).length > 0) {
      for (const [key, child] of Object.entries(value)) {
        if (depth === 0 && (key === 'apiVersion' || key === 'kind' || key === 'status')) continue;
        if (depth === 1 && top === 'metadata' && UNTRACKED_METADATA.has(key)) continue;
        if (isZeroTimestamp(key, child)) continue;
        const part = JSON.stringify(key);
        walk(child, depth === 0 ? part : `${encoded},${part}`, depth + 1, depth === 0 ? key : top);
      }
    } else if (depth > 0) {
      out.set(`[${encoded}]`, value);
    }
  };
  walk(object, '', 0, '');
  return out;
}

function valueAt(object: Json, path: readonly string[]): Json | undefined {
  let node: Json | undefined = object;
  for (const part of path) node = isObject(node) ? node[part] : undefined;
  return node;
}

function deleteAt(object: JsonObject, path: readonly string[]): void {
  const parents: JsonObject[] = [object];
  let node: Json | undefined = object;
  for (const part of path.slice(0, -1)) {
    node = isObject(node) ? node[part] : undefined;
    if (!isObject(node)) return;
    parents.push(node);
  }
  delete parents.at(-1)![path.at(-1)!];
  // Drop maps the removal left empty (as apply does), but never metadata itself.
  for (let i = parents.length - 1; i > 0; i--) {
    if (Object.keys(parents[i]!).length > 0 || (i === 1 && path[0] === 'metadata')) break;
    delete parents[i - 1]![path[i - 1]!];
  }
}

interface ManagerEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  paths: Set<string>;
  subresource?: string;
}

function toFieldsV1(paths: Iterable<string>): JsonObject {
  const root: JsonObject = {};
  for (const encoded of paths) {
    const path = JSON.parse(encoded) as string[];
    let node = root;
    for (const [i, part] of path.entries()) {
      const key = `f:${part}`;
      if (!isObject(node[key])) node[key] = i < path.length - 1 ? { '.': {} } : {};
      node = node[key] as JsonObject;
    }
  }
  // The root and its structs (`metadata`, `spec`) are never owned as a whole; its maps are.
  for (const [key, value] of Object.entries(root))
    if (isObject(value) && !TOP_LEVEL_MAPS.has(key.slice(2))) delete value['.'];
  return root;
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

function fromFieldsV1(fields: Json | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (node: Json | undefined, path: string[]) => {
    if (!isObject(node)) return;
    const children = Object.keys(node).filter((k) => k.startsWith('f:'));
    const hasOthers = Object.keys(node).some(
      (k) => k.startsWith('k:') || k.startsWith('v:') || k.startsWith('i:'),
    );
    if (path.length > 0 && (children.length === 0 || hasOthers)) {
      out.add(JSON.stringify(path));
      return;
    }
    for (const key of children) walk(node[key], [...path, key.slice(2)]);
  };
  walk(fields, []);
  return out;
}

function readManagers(object: KubeObject): ManagerEntry[] {
  return (object.metadata.managedFields ?? []).filter(isObject).map((entry) => ({
    manager: String(entry.manager ?? ''),
    operation: entry.operation === 'Apply' ? 'Apply' : 'Update',
    apiVersion: String(entry.apiVersion ?? object.apiVersion),
    time: String(entry.time ?? ''),
    paths: fromFieldsV1(entry.fieldsV1),
    ...(typeof entry.subresource === 'string' ? { subresource: entry.subresource } : {}),
  }));
}

function writeManagers(object: KubeObject, entries: ManagerEntry[]): void {
  const kept = entries.filter((e) => e.paths.size > 0);
  if (kept.length === 0) {
    delete object.metadata.managedFields;
    return;
  }
  object.metadata.managedFields = kept.map((e) => ({
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    time: e.time,
    fieldsType: 'FieldsV1',
    fieldsV1: sortedFields(toFieldsV1(e.paths)),
    ...(e.subresource === undefined ? {} : { subresource: e.subresource }),
  }));
}

/**
 * Records an Update (create, PUT, non-apply PATCH) by `manager`: it takes the fields whose value
 * it changed; fields that disappeared are owned by nobody any more.
 */
export function trackUpdate(
  before: KubeObject | undefined,
  after: KubeObject,
  manager: string,
  time: string,
  subresource?: string,
): void {
  if (before === undefined) {
    trackCreate(after, manager, time, subresource);
    return;
  }
  const entries = before === undefined ? [] : readManagers(before);
  const oldLeaves =
    before === undefined ? new Map<string, Json>() : leafPaths(before as unknown as JsonObject);
  const newLeaves = leafPaths(after as unknown as JsonObject);
  const changed = [...newLeaves]
    .filter(([path, value]) => !deepEqual(oldLeaves.get(path), value))
    .map(([p]) => p);
  const changedSet = new Set(changed);
  for (const entry of entries) {
    for (const path of [...entry.paths]) {
      if (changedSet.has(path)) {
        entry.paths.delete(path);
        continue;
      }
      // A leaf of the new object is there; anything else is looked up.
      if (newLeaves.get(path) !== undefined) continue;
      const parts = JSON.parse(path) as string[];
      if (valueAt(after as unknown as JsonObject, parts) === undefined) entry.paths.delete(path);
    }
  }
  if (changed.length > 0) {
    let mine = entries.find(
      (e) => e.manager === manager && e.operation === 'Update' && e.subresource === subresource,
    );
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
    for (const path of changed) mine.paths.add(path);
  }
  writeManagers(after, entries);
}

/**
 * `trackUpdate` of a new object: its manager owns every leaf. The same managedFields as
 * `writeManagers` writes for those leaves, built in one walk of the object.
 */
function trackCreate(object: KubeObject, manager: string, time: string, subresource?: string): void {
  const fields = fieldsOfObject(object);
  if (fields === undefined) {
    delete object.metadata.managedFields;
    return;
  }
  object.metadata.managedFields = [
    {
      manager,
      operation: 'Update',
      apiVersion: object.apiVersion,
      time,
      fieldsType: 'FieldsV1',
      fieldsV1: sortedFields(fields),
      ...(subresource === undefined ? {} : { subresource }),
    },
  ];
}

/** `toFieldsV1(leafPaths(object).keys())`, undefined when there is no leaf. */
function fieldsOfObject(object: KubeObject): JsonObject | undefined {
  const root: JsonObject = {};
  let any = false;
  for (const [key, value] of Object.entries(object as unknown as JsonObject)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'status' || value === undefined) continue;
    const node = key === 'metadata' ? fieldsOfMetadata(value) : fieldsOf(value);
    if (node === undefined) continue;
    // The root's structs are never owned as a whole: no '.' at this level but for its maps.
    if (isObject(value) && Object.keys(value).length > 0 && !TOP_LEVEL_MAPS.has(key)) delete node['.'];
    root[`f:${key}`] = node;
    any = true;
  }
  return any ? root : undefined;
}

function fieldsOfMetadata(metadata: Json): JsonObject | undefined {
  if (!isObject(metadata) || Object.keys(metadata).length === 0) return fieldsOf(metadata);
  const node: JsonObject = { '.': {} };
  let any = false;
  for (const [key, value] of Object.entries(metadata)) {
    if (UNTRACKED_METADATA.has(key) || value === undefined) continue;
    const child = fieldsOf(value);
    if (child === undefined) continue;
    node[`f:${key}`] = child;
    any = true;
  }
  return any ? node : undefined;
}

/**
 * The fieldsV1 node of a value below the root: `{}` for a leaf, `{'.': {}, f:…}` for a map;
 * undefined for a map whose every value is undefined (no leaf, as `leafPaths` finds none).
 */
function fieldsOf(value: Json): JsonObject | undefined {
  if (!isObject(value)) return {};
  const keys = Object.keys(value);
  if (keys.length === 0) return {};
  const node: JsonObject = { '.': {} };
  let any = false;
  for (const key of keys) {
    const child = value[key];
    if (child === undefined || isZeroTimestamp(key, child)) continue;
    const fields = fieldsOf(child);
    if (fields === undefined) continue;
    node[`f:${key}`] = fields;
    any = true;
  }
  return any ? node : undefined;
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
    const currentValue = valueAt(base as unknown as JsonObject, JSON.parse(path) as string[]);
    if (currentValue === undefined || deepEqual(currentValue, value)) continue;
    for (const entry of entries) {
      if (entry.manager === manager && entry.operation === 'Apply') continue;
      if (!entry.paths.has(path)) continue;
      const field = `.${(JSON.parse(path) as string[]).join('.')}`;
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
      if (appliedLeaves.has(path)) continue;
      if (entries.some((e) => e !== mine && e.paths.has(path))) continue;
      deleteAt(base as unknown as JsonObject, JSON.parse(path) as string[]);
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
  const merged = mergeApplied(base as unknown as JsonObject, applied) as unknown as KubeObject;
  for (const entry of entries) {
    if (entry === mine) continue;
    for (const [path, value] of appliedLeaves) {
      const before = valueAt(base as unknown as JsonObject, JSON.parse(path) as string[]);
      if (force || !deepEqual(before, value)) entry.paths.delete(path);
    }
  }
  mine.paths = new Set(appliedLeaves.keys());
  mine.time = time;
  merged.metadata = { ...(merged.metadata ?? {}) };
  writeManagers(merged, entries);
  return merged;
}

function mergeApplied(target: JsonObject, applied: JsonObject): JsonObject {
  const result = clone(target);
  for (const [key, value] of Object.entries(applied)) {
    if (key === 'status') continue;
    if (isObject(value) && isObject(result[key]))
      result[key] = mergeApplied(result[key] as JsonObject, value);
    else if (value !== null) result[key] = clone(value);
    else delete result[key];
  }
  return result;
}
