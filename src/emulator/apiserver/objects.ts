/**
 * Kubernetes objects as plain JSON, and the small pieces of apimachinery every part of the
 * emulator shares: metadata access, timestamps, Status errors, label and field selectors.
 */

import { BoundedMap } from '../../bounded-map.ts';
import type { BodyBytes, StoredBody } from '../store/stored-body.ts';
import { fieldsV1Ranges } from './stored-fields.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: JsonObject[];
  managedFields?: JsonObject[];
  [key: string]: Json | undefined;
}

/** A stored object: always has apiVersion, kind and metadata. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: Json | ObjectMeta | undefined;
}

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A deep copy of a JSON value. Objects here are plain JSON (parsed bodies, literals), for which a
 * recursive copy gives what structuredClone gives at a fraction of its cost (it serializes);
 * anything else (a Date, a Map, …) still goes through structuredClone.
 */
export const clone = <T>(value: T): T => cloneValue(value) as T;

function cloneValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneValue(value[i]);
    return out;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const copy = cloneValue((value as Record<string, unknown>)[key]);
    // A JSON key "__proto__" is an own property, not the prototype.
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
    else out[key] = copy;
  }
  return out;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return false;
    // A loop, not `every` with a closure made per call (docs/performance.md, "Fourteenth round").
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], other[i])) return false;
    return true;
  }
  // Members whose value is undefined count as absent. No key arrays: this runs on every write.
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let defined = 0;
  for (const key in ra) {
    if (!Object.hasOwn(ra, key) || ra[key] === undefined) continue;
    if (!Object.hasOwn(rb, key) || !deepEqual(ra[key], rb[key])) return false;
    defined += 1;
  }
  for (const key in rb) if (Object.hasOwn(rb, key) && rb[key] !== undefined) defined -= 1;
  return defined === 0;
}

let lastSecond = Number.NaN;
let lastStamp = '';

/**
 * RFC 3339 with second precision, as the API server writes metav1.Time. The last second's text
 * is kept: a rollout stamps a few dozen times (creations, managed fields, Events) within one.
 */
export function rfc3339(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  // An invalid date (NaN) is never the last second: toISOString throws, as it did.
  if (second !== lastSecond) {
    lastStamp = `${date.toISOString().slice(0, 19)}Z`;
    lastSecond = second;
  }
  return lastStamp;
}

/** A Kubernetes `Status` failure, thrown by the API layer and rendered as is. */
export class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: JsonObject | undefined;
  constructor(code: number, reason: string, message: string, details?: JsonObject) {
    super(message);
    this.name = 'StatusError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): JsonObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details === undefined ? {} : { details: this.details }),
      code: this.code,
    };
  }
}

const qualified = (resource: string, group: string): string =>
  group === '' ? resource : `${resource}.${group}`;

export const notFoundError = (resource: string, group: string, name: string): StatusError =>
  new StatusError(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, {
    name,
    ...(group === '' ? {} : { group }),
    kind: resource,
  });

export const alreadyExistsError = (resource: string, group: string, name: string): StatusError =>
  new StatusError(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, {
    name,
    ...(group === '' ? {} : { group }),
    kind: resource,
  });

export const conflictError = (resource: string, group: string, name: string): StatusError =>
  new StatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, ...(group === '' ? {} : { group }), kind: resource },
  );

export const invalidError = (kind: string, group: string, name: string, causes: string[]): StatusError =>
  new StatusError(
    422,
    'Invalid',
    `${kind}${group === '' ? '' : `.${group}`} "${name}" is invalid: ${causes.join(', ')}`,
    {
      name,
      ...(group === '' ? {} : { group }),
      kind,
    },
  );

export const badRequestError = (message: string): StatusError => new StatusError(400, 'BadRequest', message);

// ---------------------------------------------------------------------------------------------
// Selectors

type Requirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

/** Parses a label selector (`a=b,c!=d,e,!f,g in (x,y),h notin (z)`). */
export function parseLabelSelector(text: string): (labels: Record<string, string> | undefined) => boolean {
  const requirements: Requirement[] = [];
  const forms: [RegExp, (m: RegExpExecArray) => Requirement][] = [
    [
      /^([^\s,!=()]+)\s+(in|notin)\s*\(([^)]*)\)\s*(,|$)/,
      (m) => ({ key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) }),
    ],
    [
      /^([^\s,!=()]+)\s*(==|=|!=)\s*([^\s,!=()]*)\s*(,|$)/,
      (m) => ({ key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] }),
    ],
    [/^!\s*([^\s,!=()]+)\s*(,|$)/, (m) => ({ key: m[1]!, op: 'notexists' })],
    [/^([^\s,!=()]+)\s*(,|$)/, (m) => ({ key: m[1]!, op: 'exists' })],
  ];
  let rest = text.trim();
  while (rest !== '') {
    let consumed = 0;
    for (const [pattern, build] of forms) {
      const match = pattern.exec(rest);
      if (match === null) continue;
      requirements.push(build(match));
      consumed = match[0].length;
      break;
    }
    if (consumed === 0) {
      throw badRequestError(
        `unable to parse requirement: found '${rest}', expected: ',', '!=', '==', '=', 'in', 'notin'`,
      );
    }
    rest = rest.slice(consumed).trim();
  }
  return (labels) => requirementsHold(requirements, labels);
}

/** Whether labels meet every requirement (module-level: see `deepEqual`'s loop). */
function requirementsHold(
  requirements: readonly Requirement[],
  labels: Record<string, string> | undefined,
): boolean {
  for (const r of requirements) {
    const value = labels?.[r.key];
    switch (r.op) {
      case 'exists':
        if (value === undefined) return false;
        break;
      case 'notexists':
        if (value !== undefined) return false;
        break;
      case 'in':
        if (value === undefined || !r.values.includes(value)) return false;
        break;
      default:
        if (value !== undefined && r.values.includes(value)) return false;
    }
  }
  return true;
}

/** Parses a field selector (`metadata.name=x,spec.nodeName!=y`) over dotted paths of the object. */
export function parseFieldSelector(text: string): (object: KubeObject) => boolean {
  const terms = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((term) => {
      const match = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
      if (match === null) throw badRequestError(`invalid selector: '${text}'; can't understand '${term}'`);
      return { path: match[1]!.trim().split('.'), negate: match[2] === '!=', value: match[3]!.trim() };
    });
  return (object) =>
    terms.every(({ path, negate, value }) => {
      let current: unknown = object;
      for (const part of path) current = isObject(current) ? current[part] : undefined;
      const actual = current === undefined || current === null ? '' : String(current);
      return negate ? actual !== value : actual === value;
    });
}

/**
 * Each object's text, or the stored bytes of one parsed from them (`parseStored`), decoded into its
 * text by `jsonOf` when something asks for it.
 */
const JSON_OF = new WeakMap<object, string | BodyBytes>();
/** Texts of the specs successive versions of an object share (a status write keeps the spec). */
const SPEC_JSON = new WeakMap<object, string>();

/** ObjectMeta's members in the order kube-apiserver writes them (its Go struct's). */
const METADATA_ORDER = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
];

/**
 * A stored object with its members in the order kube-apiserver writes them (kind, apiVersion,
 * metadata in ObjectMeta's order, the body, status last), so its JSON reads the same. A new
 * object whose members share `object`'s values: built afresh rather than reordered in place, since
 * deleting an object's members leaves it in V8's slow dictionary mode for the rest of its life
 * (every stored object is read by controllers, compared, walked and serialized many times).
 */
export function inApiOrder(object: KubeObject): KubeObject {
  const source = object as unknown as Record<string, unknown>;
  const meta = (source.metadata ?? {}) as Record<string, unknown>;
  const orderedMeta: Record<string, unknown> = {};
  for (const key of METADATA_ORDER) if (meta[key] !== undefined) orderedMeta[key] = meta[key];
  // No key or entry arrays: every write orders its object. (`in`: an inherited name is skipped.)
  for (const key in meta) if (Object.hasOwn(meta, key) && !(key in orderedMeta)) orderedMeta[key] = meta[key];
  const ordered: Record<string, unknown> = {
    kind: source.kind,
    apiVersion: source.apiVersion,
    metadata: orderedMeta,
  };
  for (const key in source) {
    if (!Object.hasOwn(source, key) || ORDERED_APART.has(key)) continue;
    // A JSON key "__proto__" is an own member, not the prototype.
    if (key === '__proto__')
      Object.defineProperty(ordered, key, {
        value: source[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else ordered[key] = source[key];
  }
  if (source.status !== undefined) ordered.status = source.status;
  return ordered as unknown as KubeObject;
}

/** The members `inApiOrder` places itself: first (kind, apiVersion, metadata) and last (status). */
const ORDERED_APART = new Set(['kind', 'apiVersion', 'metadata', 'status']);

/**
 * `JSON.stringify(object)`, kept per object: an object the cluster stores is never changed in
 * place (every write stores a new one), so its text is built once for the store and its readers.
 * An object with a `spec` is composed member by member at its top level, its spec's text kept
 * per spec and reused by the next versions that share it (status writes, the kubelet's pod
 * writes); anything else is one `JSON.stringify`: composing smaller parts (metadata, each
 * managedFields entry) cost more than the native serialization it saved, and allocated about
 * twice the text (docs/performance.md, "Sixth round: the emulator's writes"). One parsed from its
 * stored bytes (`parseStored`) has its text decoded from them again, once.
 */
export function jsonOf(object: object): string {
  const kept = JSON_OF.get(object);
  if (typeof kept === 'string') return kept;
  let text: string;
  if (kept !== undefined) text = kept.text();
  else {
    const spec = (object as { spec?: unknown }).spec;
    text =
      typeof spec === 'object' && spec !== null && isPlain(object)
        ? composeJson(object as Record<string, unknown>)
        : JSON.stringify(object);
  }
  JSON_OF.set(object, text);
  return text;
}

const isPlain = (value: object): boolean =>
  Object.getPrototypeOf(value) === Object.prototype &&
  typeof (value as { toJSON?: unknown }).toJSON !== 'function';

/** The text `JSON.stringify` gives for a plain object, with its spec's text kept and reused. */
function composeJson(object: Record<string, unknown>): string {
  let out = '{';
  for (const key of Object.keys(object)) {
    const value = object[key];
    const text =
      key === 'spec' ? specJson(value) : key === 'metadata' ? metadataJson(value) : JSON.stringify(value);
    // JSON.stringify leaves out members whose value has no JSON text (undefined, functions).
    if (text === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${text}`;
  }
  return `${out}}`;
}

function specJson(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  let text = SPEC_JSON.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    SPEC_JSON.set(value, text);
  }
  return text;
}

/** Texts of fieldsV1 trees (frozen: managed-fields.ts builds them once and shares them). */
const FIELDS_JSON = new WeakMap<object, string>();

/** A managedFields entry's members, in the order managed-fields.ts writes them (`subresource` optional). */
const ENTRY_MEMBERS = ['manager', 'operation', 'apiVersion', 'time', 'fieldsType', 'fieldsV1', 'subresource'];

/**
 * The text `JSON.stringify` gives for an object's metadata, with the fieldsV1 trees' texts kept
 * and reused: they are most of the text (a DaemonSet's 2.2 of its 4.3 KB), their many small
 * members cost the native serialization most, and the versions of an object, the pods of a
 * template and a fleet's DaemonSets share their trees. The members around them are serialized
 * whole (composing them one by one cost more than it saved: docs/performance.md, "Sixth round:
 * the emulator's writes"). Anything but managedFields as managed-fields.ts writes them, last, is
 * one `JSON.stringify`.
 */
function metadataJson(value: unknown): string | undefined {
  if (!isObject(value) || !isPlain(value)) return JSON.stringify(value);
  const list = value.managedFields;
  if (!Array.isArray(list) || list.length === 0) return JSON.stringify(value);
  const rest: Record<string, unknown> = {};
  let last = false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    // A member after managedFields (not in API order) or an own "__proto__": serialized whole.
    if (last || key === '__proto__') return JSON.stringify(value);
    if (key === 'managedFields') last = true;
    else rest[key] = value[key];
  }
  let entries = '';
  for (const entry of list) {
    const text = entryJson(entry);
    if (text === undefined) return JSON.stringify(value);
    entries = entries === '' ? text : `${entries},${text}`;
  }
  const head = JSON.stringify(rest);
  return `${head === '{}' ? '{' : `${head.slice(0, -1)},`}"managedFields":[${entries}]}`;
}

/** The text of a frozen fieldsV1 tree, composed once per tree (`FIELDS_JSON`). */
export function fieldsV1Json(tree: JsonObject): string {
  let text = FIELDS_JSON.get(tree);
  if (text === undefined) {
    text = JSON.stringify(tree);
    FIELDS_JSON.set(tree, text);
  }
  return text;
}

/**
 * Keeps `text` as the text of the frozen tree `tree`, which its caller composed as
 * `JSON.stringify(tree)` would (managed-fields.ts: a tree made from another by renaming a key).
 */
export function keepFieldsV1Json(tree: JsonObject, text: string): void {
  FIELDS_JSON.set(tree, text);
}

/** An entry's text with its (frozen) tree's kept; undefined for any other entry. */
function entryJson(entry: unknown): string | undefined {
  if (!isObject(entry) || !isPlain(entry)) return undefined;
  let count = 0;
  for (const key in entry) {
    if (key !== ENTRY_MEMBERS[count] || !Object.hasOwn(entry, key)) return undefined;
    count += 1;
  }
  const { manager, operation, apiVersion, time, fieldsType, fieldsV1, subresource } = entry;
  if (
    count < 6 ||
    typeof manager !== 'string' ||
    typeof operation !== 'string' ||
    typeof apiVersion !== 'string' ||
    typeof time !== 'string' ||
    typeof fieldsType !== 'string' ||
    !isObject(fieldsV1) ||
    !Object.isFrozen(fieldsV1) ||
    (count === 7 && typeof subresource !== 'string')
  )
    return undefined;
  const fields = fieldsV1Json(fieldsV1);
  const head = `{"manager":${JSON.stringify(manager)},"operation":${JSON.stringify(operation)},"apiVersion":${JSON.stringify(apiVersion)},"time":${JSON.stringify(time)},"fieldsType":${JSON.stringify(fieldsType)},"fieldsV1":${fields}`;
  return count === 7 ? `${head},"subresource":${JSON.stringify(subresource)}}` : `${head}}`;
}

/**
 * An object read back from its stored text (what `jsonOf` gave when it was written): that text is
 * kept as its JSON, so answering the object after a load serializes nothing again.
 */
export function parseJson(text: string): KubeObject {
  const object = parseText(text);
  JSON_OF.set(object, text);
  return object;
}

/** A stored text's object, its fieldsV1 trees shared (`parseSharingFields`) where it can. */
const parseText = (text: string): KubeObject => parseSharingFields(text) ?? (JSON.parse(text) as KubeObject);

/**
 * An object read back from its stored body (stored-body.ts). A text is kept as its JSON, as
 * `parseJson` keeps it; bytes are kept instead of the text decoded from them, which then dies
 * young: most objects a change reads it replaces before anything answers them.
 */
export function parseStored(body: StoredBody): KubeObject {
  if (typeof body === 'string') return parseJson(body);
  const object = parseText(body.text());
  JSON_OF.set(object, body);
  return object;
}

/**
 * fieldsV1 trees read back from stored texts, by their text: parsed once, frozen and shared like
 * the trees managed-fields.ts builds (so its paths and this module's text of each are kept too).
 * Bounded: a cluster's daemon pods and revisions name its DaemonSet's uid in theirs, so a fleet
 * has one per cluster; a fleet's nodes, DaemonSets, namespaces and Events share a few.
 */
const FIELDS_BY_TEXT = new BoundedMap<string, JsonObject>(1_024);

/**
 * The object of a stored text with its managedFields' fieldsV1 trees shared (`FIELDS_BY_TEXT`):
 * the rest of the text parsed, each tree looked up by its text (stored-fields.ts finds them).
 * Undefined when the text has none, or is not laid out as expected: `JSON.parse` then reads it.
 */
function parseSharingFields(text: string): KubeObject | undefined {
  const ranges = fieldsV1Ranges(text);
  if (ranges === undefined || ranges.length === 0) return undefined;
  // Each tree's place holds null in the text parsed.
  let rest = '';
  let from = 0;
  for (let index = 0; index < ranges.length; index += 2) {
    rest += `${text.slice(from, ranges[index])}null`;
    from = ranges[index + 1]!;
  }
  const object = JSON.parse(rest + text.slice(from)) as KubeObject;
  const entries: unknown = object.metadata?.managedFields;
  if (!Array.isArray(entries)) return undefined;
  let index = 0;
  for (const entry of entries) {
    if (!isObject(entry) || entry.fieldsV1 !== null) continue;
    // A null the text had itself: the places no longer match the trees.
    if (index === ranges.length) return undefined;
    entry.fieldsV1 = sharedFields(text.slice(ranges[index], ranges[index + 1]));
    index += 2;
  }
  return index === ranges.length ? object : undefined;
}

function sharedFields(text: string): JsonObject {
  let tree = FIELDS_BY_TEXT.get(text);
  if (tree === undefined) {
    // A copy: the slice would keep the whole object's text in memory with the tree.
    const own = ` ${text}`.slice(1);
    tree = deepFreeze(JSON.parse(own) as JsonObject);
    FIELDS_JSON.set(tree, own);
    FIELDS_BY_TEXT.set(own, tree);
  }
  return tree;
}

/** `node` and every object below it frozen (a fieldsV1 tree shared between objects). */
export function deepFreeze(node: JsonObject): JsonObject {
  for (const child of Object.values(node)) if (isObject(child)) deepFreeze(child);
  return Object.freeze(node);
}

/** Drops the text kept for an object the cluster no longer stores (a replaced or deleted version). */
export function forgetJson(object: object): void {
  JSON_OF.delete(object);
}

/**
 * `jsonOf(object)`, no longer kept: for the row of an object of a kind clients seldom read again
 * (an Event: written once, listed now and then), whose text would otherwise stay in memory as
 * long as the object, beside it (≈ 1.2 KB an Event, up to 500 Events a namespace). A later reader
 * composes it again, the same text.
 */
export function releaseJson(object: object): string {
  const text = jsonOf(object);
  JSON_OF.delete(object);
  return text;
}

/** What is kept of the object's text, for tests: the text, the stored bytes it is read from, or none. */
export function keptJson(object: object): 'text' | 'bytes' | undefined {
  const kept = JSON_OF.get(object);
  return kept === undefined ? undefined : typeof kept === 'string' ? 'text' : 'bytes';
}

/**
 * `JSON.stringify` of the object without its apiVersion and kind (a list item), from `jsonOf`:
 * the kept text less its first two members when they are those two, in either order (a stored
 * object has kind first, `inApiOrder`); else one `JSON.stringify` of the rest.
 */
export function itemJsonOf(object: KubeObject): string {
  const { apiVersion, kind } = object;
  if (apiVersion === undefined && kind === undefined) return jsonOf(object);
  if (typeof apiVersion === 'string' && typeof kind === 'string') {
    const keys = Object.keys(object);
    const prefix =
      keys[0] === 'kind' && keys[1] === 'apiVersion'
        ? `{"kind":${JSON.stringify(kind)},"apiVersion":${JSON.stringify(apiVersion)}`
        : keys[0] === 'apiVersion' && keys[1] === 'kind'
          ? `{"apiVersion":${JSON.stringify(apiVersion)},"kind":${JSON.stringify(kind)}`
          : undefined;
    if (prefix !== undefined) {
      const text = jsonOf(object);
      if (text.startsWith(`${prefix},`)) return `{${text.slice(prefix.length + 1)}`;
      if (text === `${prefix}}`) return '{}';
    }
  }
  const { apiVersion: _apiVersion, kind: _kind, ...rest } = object;
  return JSON.stringify(rest);
}
