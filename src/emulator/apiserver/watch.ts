/**
 * Watch streams: newline-delimited events from the object store's change log, filtered by
 * namespace and selectors, resumed from a resourceVersion (410 when it left the log), with the
 * initial-events bookmark and `timeoutSeconds`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KubeApiDeps } from './kube-api.routes.ts';
import { DEFAULT_KUBE_API_LIMITS, watchTimeoutMs } from './limits.ts';
import { select } from './lists.ts';
import type { ChangeEvent, ObjectStore, Watcher } from './object-store.ts';
import {
  badRequestError,
  jsonOf,
  type KubeObject,
  parseFieldSelector,
  parseLabelSelector,
  StatusError,
} from './objects.ts';
import { JSON_TYPE, type Query, type Target } from './request.ts';
import { apiVersionOf } from './resources.ts';
import { toTable, wantsTable } from './tables.ts';

/** How often an open watch asks again whether its caller is still let in (idle watches included). */
const REAUTHORIZE_MS = 1_000;

/**
 * A watch streams a cluster's changes for as long as its caller is let in: `stillAllowed` is asked
 * again before each batch of events and every REAUTHORIZE_MS, so a watch held open across a
 * cluster's DELETE (or a kubeconfig reset, or a new IP restriction) closes then, and sends nothing
 * after the API refused its token.
 */
export function startWatch(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: KubeApiDeps,
  cluster: ObjectStore,
  target: Target,
  query: Query,
  stillAllowed: () => Promise<boolean>,
): FastifyReply {
  const { resource } = target;
  const namespace = target.namespace;
  const labels = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
  const fieldSelector =
    query.fieldSelector ?? (target.name !== undefined ? `metadata.name=${target.name}` : undefined);
  const fields = fieldSelector ? parseFieldSelector(fieldSelector) : undefined;
  const matches = (o: KubeObject | undefined) =>
    o !== undefined &&
    (namespace === undefined || o.metadata.namespace === namespace) &&
    (labels === undefined || labels(o.metadata.labels)) &&
    (fields === undefined || fields(o));
  const asTable = wantsTable(request.headers.accept);
  const rv = query.resourceVersion;
  let backlog: ChangeEvent[] | undefined;
  if (rv !== undefined && rv !== '' && rv !== '0' && query.sendInitialEvents !== 'true') {
    const number = Number(rv);
    if (!Number.isInteger(number)) throw badRequestError(`invalid resource version: ${rv}`);
    backlog = cluster.eventsSince(resource, number);
    if (backlog === undefined) {
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': JSON_TYPE });
      const status = new StatusError(
        410,
        'Expired',
        `too old resource version: ${rv} (${cluster.resourceVersion})`,
      );
      reply.raw.end(`${JSON.stringify({ type: 'ERROR', object: status.toStatus() })}\n`);
      return reply;
    }
  }

  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-cache, private' });
  // Send the headers now, as kube-apiserver does: clients (kubectl's informers) wait for them before
  // they can use or cancel the watch, and an idle watch may have nothing to write for minutes.
  raw.flushHeaders();
  // `JSON.stringify({ type, object })`, with the object's kept text (`jsonOf`) rather than a new
  // serialization of it for every event and every watcher.
  const write = (type: string, object: KubeObject) => {
    const text = asTable
      ? JSON.stringify(
          toTable(resource, [object], object.metadata.resourceVersion ?? '', deps.now(), query.includeObject),
        )
      : jsonOf(object);
    raw.write(`{"type":${JSON.stringify(type)},"object":${text}}\n`);
  };
  const deliver = (event: ChangeEvent) => {
    const now = matches(event.object);
    const before = event.previous !== undefined && event.type !== 'DELETED' ? matches(event.previous) : now;
    if (event.type === 'ADDED' && now) write('ADDED', event.object);
    else if (event.type === 'DELETED' && now) write('DELETED', event.object);
    else if (event.type === 'MODIFIED') {
      if (now && before) write('MODIFIED', event.object);
      else if (now) write('ADDED', event.object);
      else if (before) write('DELETED', event.object);
    }
  };

  let timeout: NodeJS.Timeout | undefined;
  let recheck: NodeJS.Timeout | undefined;
  // Events wait here while the caller's access is checked again; order is kept.
  const pending: ChangeEvent[] = [];
  let draining = false;
  const allowed = () => stillAllowed().catch(() => false);
  const drain = async () => {
    if (draining) return;
    draining = true;
    try {
      while (pending.length > 0 && !raw.writableEnded) {
        if (!(await allowed())) return watcher.close();
        for (const event of pending.splice(0)) deliver(event);
      }
    } finally {
      draining = false;
    }
  };
  const watcher: Watcher = {
    resource,
    namespace,
    send: (event) => {
      pending.push(event);
      void drain();
    },
    close: () => {
      if (timeout !== undefined) clearTimeout(timeout);
      if (recheck !== undefined) clearInterval(recheck);
      pending.length = 0;
      cluster.watchers.delete(watcher);
      deps.watches.delete(watcher);
      if (!raw.writableEnded) raw.end();
    },
  };
  if (backlog === undefined) {
    for (const object of select(cluster, resource, namespace, { ...query, fieldSelector }))
      write('ADDED', object);
    if (query.sendInitialEvents === 'true') {
      raw.write(
        `${JSON.stringify({
          type: 'BOOKMARK',
          object: {
            kind: resource.kind,
            apiVersion: apiVersionOf(resource),
            metadata: {
              resourceVersion: cluster.resourceVersion,
              annotations: { 'k8s.io/initial-events-end': 'true' },
            },
          },
        })}\n`,
      );
    }
  } else {
    for (const event of backlog) deliver(event);
  }
  cluster.watchers.add(watcher);
  deps.watches.add(watcher);
  request.raw.on('close', watcher.close);
  raw.on('close', watcher.close);
  const limits = request.server.kubeApiLimits ?? DEFAULT_KUBE_API_LIMITS;
  timeout = setTimeout(watcher.close, watchTimeoutMs(query.timeoutSeconds, limits));
  recheck = setInterval(() => {
    void allowed().then((ok) => {
      if (!ok) watcher.close();
    });
  }, REAUTHORIZE_MS);
  recheck.unref();
  return reply;
}
