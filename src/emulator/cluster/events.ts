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

/** Records `event` about `object`, or counts it again when the object already has one for this reason. */
export function recordEvent(cluster: ObjectStore, object: KubeObject, event: EventInput, now: Date): void {
  const namespace = object.metadata.namespace ?? 'default';
  const time = rfc3339(now);
  // Looked up and counted without listing: a list sorts the namespace's events afresh after every
  // write, and a rollout records about 21 of them per cluster (docs/performance.md).
  let existing: KubeObject | undefined;
  let inNamespace = 0;
  for (const e of cluster.values(RESOURCE.events)) {
    if (e.metadata.namespace !== namespace) continue;
    inNamespace += 1;
    if (
      (e.involvedObject as { uid?: string } | undefined)?.uid === object.metadata.uid &&
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
  if (inNamespace + 1 > MAX_EVENTS) {
    const events = cluster.list(RESOURCE.events, namespace);
    const oldest = [...events]
      .sort((a, b) => String(a.lastTimestamp).localeCompare(String(b.lastTimestamp)))
      .slice(0, events.length - MAX_EVENTS);
    for (const old of oldest) cluster.delete(RESOURCE.events, namespace, old.metadata.name ?? '');
  }
}
