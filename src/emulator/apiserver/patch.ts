/**
 * The PATCH flavours of the Kubernetes API over plain JSON: JSON merge patch, strategic merge
 * patch and JSON patch. Server-side apply, the fourth, lives with field ownership
 * (managed-fields.ts), which it is made of.
 *
 * Merge patches and strategic merge patches never change their target: they build new maps and
 * lists along the paths the patch names and share every member it leaves alone with the target
 * (stored objects are never changed in place, so a patched version may share its untouched parts
 * with the one it replaces, as the store's status writes do). A caller must not change what they
 * return in place below its top level. A JSON patch edits a deep copy.
 */
import { clone, deepEqual, isObject, type Json, type JsonObject, StatusError } from './objects.ts';

/** A new map with `target`'s members (shared, not copied), or an empty one. */
const membersOf = (target: Json | undefined): JsonObject => (isObject(target) ? { ...target } : {});

// ---------------------------------------------------------------------------------------------
// JSON merge patch (RFC 7386)

export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const result = membersOf(target);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch, for the fields Kubernetes marks with a merge key

/** patchMergeKey of the list fields kubectl and mks touch (by field name, as in the Go types). */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  conditions: 'type',
  addresses: 'type',
  ownerReferences: 'uid',
};
/** Primitive lists with strategy "merge" (union). */
const MERGE_PRIMITIVES = new Set(['finalizers']);

export function strategicMergePatch(target: Json | undefined, patch: Json): Json | undefined {
  if (!isObject(patch)) return clone(patch);
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  const strip = (o: JsonObject): JsonObject =>
    Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith('$')));
  if (directive === 'replace') return clone(strip(patch));
  const result = membersOf(target);
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const current = result[field];
      if (Array.isArray(current) && Array.isArray(value)) {
        result[field] = current.filter((item) => !value.some((v) => deepEqual(v, item)));
      }
      continue;
    }
    if (key.startsWith('$')) continue; // $setElementOrder/…, $retainKeys: ordering hints only
    if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      const current = result[key];
      const mergeKey = MERGE_KEYS[key];
      if (mergeKey !== undefined && Array.isArray(current)) {
        result[key] = mergeList(current, value, mergeKey);
      } else if (MERGE_PRIMITIVES.has(key) && Array.isArray(current)) {
        result[key] = [...current, ...value.filter((v) => !current.some((c) => deepEqual(c, v)))];
      } else {
        result[key] = value.filter((v) => !(isObject(v) && v.$patch !== undefined)).map((v) => clone(v));
      }
    } else if (isObject(value)) {
      const merged = strategicMergePatch(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  return result;
}

function mergeList(current: Json[], patch: Json[], mergeKey: string): Json[] {
  // The items the patch names are merged into new ones; the others are shared.
  const result = current.slice();
  for (const item of patch) {
    if (!isObject(item)) continue;
    const key = item[mergeKey];
    const index = result.findIndex((existing) => isObject(existing) && deepEqual(existing[mergeKey], key));
    if (item.$patch === 'delete') {
      if (index !== -1) result.splice(index, 1);
    } else if (index === -1) {
      result.push(strategicMergePatch(undefined, item) ?? {});
    } else {
      result[index] = strategicMergePatch(result[index], item) ?? {};
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// JSON patch (RFC 6902)

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new StatusError(422, 'Invalid', `invalid JSON pointer: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
}

export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw new StatusError(400, 'BadRequest', 'json patch must be an array');
  let doc = clone(target);
  const fail = (message: string) => new StatusError(422, 'Invalid', message);
  const parentOf = (parts: string[]): [Json, string] => {
    let node: Json = doc;
    for (const part of parts.slice(0, -1)) {
      const next: Json | undefined = Array.isArray(node)
        ? node[Number(part)]
        : isObject(node)
          ? node[part]
          : undefined;
      if (next === undefined) throw fail(`doc is missing path: "/${parts.join('/')}"`);
      node = next;
    }
    return [node, parts.at(-1) ?? ''];
  };
  const get = (path: string): Json => {
    let node: Json | undefined = doc;
    for (const part of pointer(path)) {
      node = Array.isArray(node) ? node[Number(part)] : isObject(node) ? node[part] : undefined;
      if (node === undefined) throw fail(`doc is missing path: "${path}"`);
    }
    return node;
  };
  const remove = (path: string): Json => {
    const parts = pointer(path);
    const [parent, key] = parentOf(parts);
    if (Array.isArray(parent)) {
      const index = Number(key);
      if (!(index >= 0 && index < parent.length)) throw fail(`doc is missing path: "${path}"`);
      return parent.splice(index, 1)[0]!;
    }
    if (!isObject(parent) || !(key in parent)) throw fail(`doc is missing path: "${path}"`);
    const old = parent[key]!;
    delete parent[key];
    return old;
  };
  const add = (path: string, value: Json, replace: boolean) => {
    const parts = pointer(path);
    if (parts.length === 0) {
      doc = clone(value);
      return;
    }
    const [parent, key] = parentOf(parts);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (!(index >= 0 && index <= parent.length)) throw fail(`index out of range: "${path}"`);
      if (replace) parent[index] = clone(value);
      else parent.splice(index, 0, clone(value));
    } else if (isObject(parent)) {
      if (replace && !(key in parent)) throw fail(`doc is missing key: "${path}"`);
      parent[key] = clone(value);
    } else {
      throw fail(`doc is missing path: "${path}"`);
    }
  };
  for (const op of operations) {
    if (!isObject(op) || typeof op.path !== 'string') throw fail('invalid JSON patch operation');
    switch (op.op) {
      case 'add':
        add(op.path, op.value ?? null, false);
        break;
      case 'replace':
        add(op.path, op.value ?? null, true);
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'move':
        add(op.path, remove(String(op.from)), false);
        break;
      case 'copy':
        add(op.path, get(String(op.from)), false);
        break;
      case 'test':
        if (!deepEqual(get(op.path), op.value)) throw fail(`testing value ${op.path} failed`);
        break;
      default:
        throw fail(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}
