/**
 * Events as the kubelet and the scheduler record them (`kubectl get events`, `kubectl describe`): one Event per
 * object and reason, its count and lastTimestamp bumped when it happens again, as client-go's
 * event correlator aggregates a repeated event.
 */
import { FieldsByShape } from '../apiserver/managed-fields.ts';
import { type CreationStamp, type Digest, type ObjectStore, StoredText } from '../apiserver/object-store.ts';
import { fieldsV1Json, type JsonObject, type KubeObject, rfc3339 } from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { randomHex } from './random-hex.ts';

export interface EventInput {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  /** The component that reports it (`kubelet`), and the node it runs on. */
  readonly component: string;
  readonly host?: string;
}

/** Events kept per namespace: past it, the oldest go (kube-apiserver lets them expire after an hour). */
const MAX_EVENTS = 500;

const listKey = (event: KubeObject): string => `${event.metadata.namespace}/${event.metadata.name}`;

/**
 * The fieldsV1 of the Events recorded, by shape: every member below is always there (strings, the
 * counters, a null eventTime) except `source.host`, and `kind` / `apiVersion` of an object that
 * lacks them; the manager is the component. The first Event of a shape is walked by the field
 * manager, the others take its tree (object-store.ts `sameShapeAs`). Bounded (a few components).
 */
const FIELDS_BY_SHAPE = new FieldsByShape(64);

const involvedUid = (event: KubeObject): unknown =>
  (event.involvedObject as { uid?: unknown } | undefined)?.uid;

/**
 * Events by their namespace, the uid of the object they are about, their reason and message
 * (`ObjectStore.filed`): what one recorded again is found by. The reason and message are in the
 * key so that a lookup parses only the Events it matches, not every Event of the object (a
 * DaemonSet's `SuccessfulCreate`/`SuccessfulDelete` of every rollout) when they are still text.
 */
const byOccurrence = (event: KubeObject): string | undefined => {
  const uid = involvedUid(event);
  return typeof uid === 'string'
    ? `${event.metadata.namespace}\n${uid}\n${String(event.reason)}\n${String(event.message)}`
    : undefined;
};

/** Events by their namespace (`ObjectStore.countFiled`, `filedDigests`). */
const byNamespace = (event: KubeObject): string | undefined => event.metadata.namespace;

/**
 * What the lookups above and `earlier` read of an Event, stored beside its body
 * (`emulator_objects.digest`) so a cluster loaded from the store keeps its Events as text
 * (`ObjectStore.restoreText`): recording one then parses only the Event it counts again, and
 * the namespace's oldest is found among the digests. Members an Event lacks stay missing (JSON
 * drops them), so the digest files and sorts as the Event itself.
 */
export const EVENT_DIGEST: Digest = {
  of: (event) =>
    JSON.stringify({
      metadata: { namespace: event.metadata.namespace, name: event.metadata.name },
      involvedObject: { uid: involvedUid(event) },
      reason: event.reason,
      message: event.message,
      lastTimestamp: event.lastTimestamp,
    }),
  read: (text) => JSON.parse(text) as KubeObject,
};

/**
 * Records `event` about `object`, or counts it again when the object already has one for this reason.
 * The Event is found, and the namespace's Events counted, through the store's indexes: a pass over
 * every Event of the cluster cost each Event recorded as much as the cluster had (up to 500 per
 * namespace; docs/performance.md, "Fifth round"). An Event is counted again only among those the
 * cluster holds in memory: a cluster loaded again leaves its older Events in the store until
 * something reads them (emulator.ts, "Events stay in the store"), as client-go's correlator, whose
 * cache lives in the recording component, starts afresh when that component does.
 */
export function recordEvent(cluster: ObjectStore, object: KubeObject, event: EventInput, now: Date): void {
  const namespace = object.metadata.namespace ?? 'default';
  const time = rfc3339(now);
  const uid = object.metadata.uid;
  let existing: KubeObject | undefined;
  // Stored objects have a uid; an object without one matches only Events without one (not indexed).
  const candidates =
    typeof uid === 'string'
      ? cluster.filed(
          RESOURCE.events,
          byOccurrence,
          `${namespace}\n${uid}\n${event.reason}\n${event.message}`,
        )
      : cluster.values(RESOURCE.events);
  for (const e of candidates) {
    if (
      e.metadata.namespace === namespace &&
      (e.involvedObject as { uid?: string } | undefined)?.uid === uid &&
      e.reason === event.reason &&
      e.message === event.message &&
      // The first in list order, should there be several (Events a client created).
      (existing === undefined || listKey(e).localeCompare(listKey(existing)) < 0)
    )
      existing = e;
  }
  if (existing !== undefined) {
    cluster.update(
      RESOURCE.events,
      { ...existing, count: Number(existing.count ?? 1) + 1, lastTimestamp: time },
      { manager: event.component, owned: true },
    );
    return;
  }
  const shape = `${event.component}\n${event.host !== undefined}\n${object.kind !== undefined}\n${object.apiVersion !== undefined}`;
  const fields = FIELDS_BY_SHAPE.get(shape);
  if (fields !== undefined) {
    // A shape seen before: the Event composed as the text `create` stores (its tree is known).
    const name = `${object.metadata.name}.${randomHex(8)}`;
    cluster.createText(RESOURCE.events, namespace, name, eventText, {
      name,
      namespace,
      object,
      event,
      time,
      fields,
    });
  } else {
    createEvent(cluster, shape, namespace, object, event, time);
  }
  const excess =
    cluster.countFiled(RESOURCE.events, byNamespace, namespace) +
    cluster.deferredCount(RESOURCE.events, namespace) -
    MAX_EVENTS;
  if (excess <= 0) return;
  // The oldest may be among the Events the load left in the store: pruned once they are loaded.
  if (cluster.isDeferred(RESOURCE.events)) cluster.needDeferred(RESOURCE.events);
  else
    for (const name of oldest(cluster, namespace, excess)) cluster.delete(RESOURCE.events, namespace, name);
}

/**
 * Deletes the oldest Events of every namespace over the bound: after the Events a load left in
 * the store are brought in, for the namespaces that went over it meanwhile (`recordEvent`).
 */
export function pruneEvents(cluster: ObjectStore): void {
  for (const { metadata } of cluster.list(RESOURCE.namespaces)) {
    const namespace = metadata.name ?? '';
    const excess = cluster.countFiled(RESOURCE.events, byNamespace, namespace) - MAX_EVENTS;
    if (excess > 0)
      for (const name of oldest(cluster, namespace, excess)) cluster.delete(RESOURCE.events, namespace, name);
  }
}

/** The first Event of its shape, through `create` (whose field manager walks it): its tree is learnt. */
function createEvent(
  cluster: ObjectStore,
  shape: string,
  namespace: string,
  object: KubeObject,
  event: EventInput,
  time: string,
): void {
  const created = cluster.create(
    RESOURCE.events,
    {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${object.metadata.name}.${randomHex(8)}`, namespace },
      involvedObject: {
        kind: object.kind,
        namespace,
        name: object.metadata.name ?? '',
        uid: object.metadata.uid ?? '',
        apiVersion: object.apiVersion,
        resourceVersion: object.metadata.resourceVersion ?? '',
      },
      reason: event.reason,
      message: event.message,
      source: { component: event.component, ...(event.host === undefined ? {} : { host: event.host }) },
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
      type: event.type,
      eventTime: null,
      reportingComponent: event.component,
      reportingInstance: event.host ?? '',
    },
    { manager: event.component, owned: true },
  );
  FIELDS_BY_SHAPE.learn(shape, created);
}

const json = JSON.stringify;

/** What `eventText` composes an Event from (the rest is the store's `CreationStamp`). */
interface EventParts {
  readonly name: string;
  readonly namespace: string;
  /** The object the Event is about. */
  readonly object: KubeObject;
  readonly event: EventInput;
  /** Its first and last timestamp. */
  readonly time: string;
  /** Its shape's fieldsV1 tree. */
  readonly fields: JsonObject;
}

/**
 * The text `createEvent`'s Event is stored as (members in API order, undefined ones left out as
 * JSON leaves them, managedFields as the field manager records a create by the component, with
 * `fields` its shape's tree), and its digest: composed directly instead of building, ordering,
 * tracking and serializing the object (a new Event's `recordEvent` 13–23 → 6–10 µs:
 * docs/performance.md, "Fifteenth round"). The tests hold the two paths to the same text
 * (events.test.ts).
 */
function eventText(stamp: CreationStamp, parts: EventParts): StoredText {
  const { name, namespace, object, event, time, fields } = parts;
  const { kind, apiVersion } = object;
  const uid = object.metadata.uid ?? '';
  // Each member's JSON once: the body and the digest share them.
  const nameJson = json(name);
  const namespaceJson = json(namespace);
  const uidJson = json(uid);
  const reasonJson = json(event.reason);
  const messageJson = json(event.message);
  const timeJson = json(time);
  const component = json(event.component);
  const created = json(stamp.creationTimestamp);
  const text =
    `{"kind":"Event","apiVersion":"v1","metadata":{"name":${nameJson},"namespace":${namespaceJson},` +
    `"uid":${json(stamp.uid)},"resourceVersion":${json(stamp.resourceVersion)},"creationTimestamp":${created},` +
    `"managedFields":[{"manager":${component},"operation":"Update","apiVersion":"v1","time":${created},` +
    `"fieldsType":"FieldsV1","fieldsV1":${fieldsV1Json(fields)}}]},` +
    `"involvedObject":{${kind === undefined ? '' : `"kind":${json(kind)},`}"namespace":${namespaceJson},` +
    `"name":${json(object.metadata.name ?? '')},"uid":${uidJson}` +
    `${apiVersion === undefined ? '' : `,"apiVersion":${json(apiVersion)}`},` +
    `"resourceVersion":${json(object.metadata.resourceVersion ?? '')}},` +
    `"reason":${reasonJson},"message":${messageJson},` +
    `"source":{"component":${component}${event.host === undefined ? '' : `,"host":${json(event.host)}`}},` +
    `"firstTimestamp":${timeJson},"lastTimestamp":${timeJson},"count":1,"type":${json(event.type)},` +
    `"eventTime":null,"reportingComponent":${component},"reportingInstance":${json(event.host ?? '')}}`;
  const digest = {
    metadata: { namespace, name },
    involvedObject: { uid },
    reason: event.reason,
    message: event.message,
    lastTimestamp: time,
  } as unknown as KubeObject;
  // EVENT_DIGEST.of(digest), composed from the same members' JSON.
  const digestText =
    `{"metadata":{"namespace":${namespaceJson},"name":${nameJson}},"involvedObject":{"uid":${uidJson}},` +
    `"reason":${reasonJson},"message":${messageJson},"lastTimestamp":${timeJson}}`;
  return new StoredText(text, digest, digestText);
}

/** Which of two Events goes first: the earlier lastTimestamp, then list order (a stable sort of the list). */
const earlier = (a: KubeObject, b: KubeObject): number =>
  String(a.lastTimestamp).localeCompare(String(b.lastTimestamp)) || listKey(a).localeCompare(listKey(b));

/**
 * The names of the `count` Events of the namespace that go first. A namespace at its bound loses
 * one Event per Event recorded: found in one pass, where sorting the namespace's Events (after a
 * list, itself sorted afresh after every write) cost a cluster at the bound about three times its
 * rollout's CPU (docs/performance.md, "Fifth round"); among their digests, so Events still kept
 * as text are not parsed for it.
 */
function oldest(cluster: ObjectStore, namespace: string, count: number): string[] {
  const events = cluster.filedDigests(RESOURCE.events, byNamespace, namespace);
  const name = (e: KubeObject): string => e.metadata.name ?? '';
  if (count > 1) return events.sort(earlier).slice(0, count).map(name);
  let first: KubeObject | undefined;
  for (const e of events) if (first === undefined || earlier(e, first) < 0) first = e;
  return first === undefined ? [] : [name(first)];
}
