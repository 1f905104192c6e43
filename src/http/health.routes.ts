/**
 * `/healthz` (the process is up) and `/readyz` (it can do its work: the database answers, the
 * reconciler it should run is running), unauthenticated and outside `/1.0`, on both listeners.
 */
import type { FastifyInstance } from 'fastify';
import { sendJson } from './responses.ts';

/** Each check's state: 'ok', or why not. */
export type ReadinessCheck = () => Promise<Record<string, string>>;

export function registerHealthRoutes(app: FastifyInstance, readiness: ReadinessCheck): void {
  const options = { config: { auth: 'none' as const }, schema: { hide: true } };
  app.get('/healthz', options, async (_request, reply) => sendJson(reply, { status: 'ok' }));
  app.get('/readyz', options, async (_request, reply) => {
    const checks = await readiness();
    const ready = Object.values(checks).every((state) => state === 'ok');
    return sendJson(reply.code(ready ? 200 : 503), { status: ready ? 'ok' : 'unavailable', checks });
  });
}
