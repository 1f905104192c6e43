/** `GET`/`PUT /cloud/project/{serviceName}/kube/{kubeId}/customization`. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type CustomizationInput, customizationSchema } from '../customization/customization.model.ts';
import { customizationView } from '../customization/customization.ts';
import { invalid } from '../errors.ts';
import { actorOf } from '../http/actor.ts';
import type { AppDeps } from '../http/deps.ts';
import { type KubeParams, kubeParams } from '../http/params.ts';
import { sendJson, sendJsonText } from '../http/responses.ts';
import type { ClusterRecord } from './clusters.model.ts';

/**
 * Cluster records are immutable and replaced on every change, so the serialized customization of
 * one record can be kept with it: a GET then costs no serialization at all.
 */
const serialized = new WeakMap<ClusterRecord, string>();

function customizationJson(cluster: ClusterRecord): string {
  let text = serialized.get(cluster);
  if (text === undefined) {
    text = JSON.stringify(customizationView(cluster.customization));
    serialized.set(cluster, text);
  }
  return text;
}

/**
 * A customization body cannot change the mode. Checked before the schema so the refusal says why,
 * not just "unknown field" (the PUT and its preview alike). A `done`-style hook: no promise per PUT.
 */
export function refuseKubeProxyMode(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: (error?: Error) => void,
): void {
  const body = request.body as Record<string, unknown> | undefined;
  if (body !== null && typeof body === 'object' && 'kubeProxyMode' in body) {
    done(
      invalid(
        'kubeProxyMode: cannot be changed by a customization update; it is set at creation and can only change on reset (POST /kube/{kubeId}/reset; preview one with POST /kube/{kubeId}/reset/preview: disruption reset-required)',
      ),
    );
    return;
  }
  done();
}

export function registerCustomizationRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'clusters'>): void {
  app.get(
    '/kube/:kubeId/customization',
    {
      schema: {
        tags: ['kube'],
        summary: 'The customization as the user set it (apiServer always carries admissionPlugins)',
        params: kubeParams,
        response: { 200: customizationSchema },
      },
    },
    (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      // A cluster held in memory is answered without a promise (docs/performance.md).
      const held = deps.clusters.held(serviceName, kubeId);
      if (held !== undefined) {
        sendJsonText(reply, customizationJson(held));
        return;
      }
      return deps.clusters
        .getCustomization(serviceName, kubeId)
        .then((cluster) => sendJsonText(reply, customizationJson(cluster)));
    },
  );

  app.put(
    '/kube/:kubeId/customization',
    {
      preValidation: refuseKubeProxyMode,
      schema: {
        tags: ['kube'],
        summary:
          'Update the customization: top-level keys sent replace those sections whole, keys not sent are kept',
        params: kubeParams,
        body: customizationSchema,
        response: { 200: { type: 'object', properties: { message: { type: 'string' } } } },
      },
    },
    // A promise chain, not an `async` handler: the API's hot write (docs/performance.md). Its
    // value is undefined, not the reply: a reply is a thenable, which the promise would adopt
    // with one more job and a call of the reply's `then` per PUT.
    (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      return deps.clusters
        .updateCustomization(
          serviceName,
          kubeId,
          (request.body ?? {}) as CustomizationInput,
          actorOf(request),
        )
        .then((answer) => {
          sendJson(reply, answer);
        });
    },
  );
}
