/**
 * Events as the kubelet and the scheduler record them (`kubectl get events`, `kubectl describe`): one Event per
 * object and reason, its count and lastTimestamp bumped when it happens again, as client-go's
 * event correlator aggregates a repeated event.
 */
import { FieldsByShape } from '../apiserver/managed-fields.ts';
import type { ObjectStore } from '../apiserver/object-store.ts';
import { type KubeObject, rfc3339 } from '../apiserver/objects.ts';
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

/** Events by their namespace and the uid of the object they are about (`ObjectStore.filed`). */
const byInvolvedObject = (event: KubeObject): string | undefined => {
  const uid = (event.involvedObject as { uid?: unknown } | undefined)?.uid;
  return typeof uid === 'string' ? `${event.metadata.namespace}\n${uid}` : undefined;
};

/** Events by their namespace (`ObjectStore.countFiled`). */
const byNamespace = (event: KubeObject): string | undefined => event.metadata.namespace;

/**
 * Records `event` about `object`, or counts it again when the object already has one for this reason.
 * The Event is found, and the namespace's Events counted, through the store's indexes: a pass over
 * every Event of the cluster cost each Event recorded as much as the cluster had (up to 500 per
 * namespace; docs/performance.md, "Fifth round").
 */
export function recordEvent(cluster: ObjectStore, object: KubeObject, event: EventInput, now: Date): void {
  const namespace = object.metadata.namespace ?? 'default';
  const time = rfc3339(now);
  const uid = object.metadata.uid;
  let existing: KubeObject | undefined;
  // Stored objects have a uid; an object without one matches only Events without one (not indexed).
  const candidates =
    typeof uid === 'string'
      ? cluster.filed(RESOURCE.events, byInvolvedObject, `${namespace}\n${uid}`)
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
    { manager: event.component, owned: true, sameShapeAs: FIELDS_BY_SHAPE.get(shape) },
  );
  FIELDS_BY_SHAPE.learn(shape, created);
  const excess = cluster.countFiled(RESOURCE.events, byNamespace, namespace) - MAX_EVENTS;
  if (excess > 0) {
    for (const old of oldest(cluster, namespace, excess))
      cluster.delete(RESOURCE.events, namespace, old.metadata.name ?? '');
  }
}

/** Which of two Events goes first: the earlier lastTimestamp, then list order (a stable sort of the list). */
const earlier = (a: KubeObject, b: KubeObject): number =>
  String(a.lastTimestamp).localeCompare(String(b.lastTimestamp)) || listKey(a).localeCompare(listKey(b));

/**
 * The `count` Events of the namespace that go first. A namespace at its bound loses one Event per
 * Event recorded: found in one pass, where sorting the namespace's Events (after a list, itself
 * sorted afresh after every write) cost a cluster at the bound about three times its rollout's CPU
 * (docs/performance.md, "Fifth round").
 */
function oldest(cluster: ObjectStore, namespace: string, count: number): KubeObject[] {
  const events = cluster.filed(RESOURCE.events, byNamespace, namespace);
  if (count > 1) return events.sort(earlier).slice(0, count);
  let first: KubeObject | undefined;
  for (const e of events) if (first === undefined || earlier(e, first) < 0) first = e;
  return first === undefined ? [] : [first];
}
