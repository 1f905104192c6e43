/**
 * Scale-out: where a call for an emulated cluster runs. Each cluster is owned by one process at a
 * time (ownership.ts); a call that reaches another process is sent on to the owner (forward.ts):
 * Kubernetes API calls as they came, control calls as `ControlCall`s.
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { StatusError } from '../apiserver/objects.ts';
import { type ControlCall, type ControlResult, controlPath, controlResult } from './control.ts';
import { FORWARDED_HEADER, Forwarder, OwnerUnreachableError } from './forward.ts';
import type { Ownership } from './ownership.ts';

/** A forwarded call's original caller address, vouched for with the internal token (IP restrictions). */
const CLIENT_IP_HEADER = 'x-mks-client-ip';
const INTERNAL_TOKEN_HEADER = 'x-mks-internal-token';

export class ClusterRouter {
  readonly #ownership: Ownership;
  readonly #logger: Logger;
  /** Set when clusters are shared between processes (else every call runs here). */
  readonly #peers: { forwarder: Forwarder; internalToken: string } | undefined;

  constructor(
    ownership: Ownership,
    peers: { caPem: string; internalToken: string } | undefined,
    logger: Logger,
  ) {
    this.#ownership = ownership;
    this.#logger = logger;
    if (ownership.shared && peers === undefined)
      throw new Error('shared emulator ownership needs peers (CA and internal token)');
    // Peers matter only when clusters are shared between processes.
    this.#peers =
      ownership.shared && peers !== undefined
        ? { forwarder: new Forwarder(peers.caPem), internalToken: peers.internalToken }
        : undefined;
  }

  /**
   * The address of the caller of a Kubernetes API call: the socket's, or, on a call another mks
   * process forwarded (it carries the internal token), the address that process vouches for.
   */
  clientIp(request: FastifyRequest): string {
    const vouched = request.headers[CLIENT_IP_HEADER];
    const token = request.headers[INTERNAL_TOKEN_HEADER];
    if (this.#peers === undefined || typeof vouched !== 'string' || typeof token !== 'string')
      return request.ip;
    const expected = Buffer.from(this.#peers.internalToken);
    const given = Buffer.from(token);
    return given.length === expected.length && crypto.timingSafeEqual(given, expected) ? vouched : request.ip;
  }

  /** The internal calls' token, when other processes may call this one. */
  get internalToken(): string | undefined {
    return this.#peers?.internalToken;
  }

  /**
   * When another process owns the cluster, sends the call there and returns the reply; undefined
   * when this process serves it. A call that was already forwarded is never forwarded again (503
   * while ownership is moving: clients retry).
   */
  async forward(
    clusterId: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    if (this.#peers === undefined) return undefined;
    const forwarded = request.headers[FORWARDED_HEADER] !== undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const route = await this.#ownership.route(clusterId, { fresh: forwarded || attempt > 0 });
      if (route.local) return undefined;
      if (forwarded) break;
      try {
        return await this.#peers.forwarder.forward(request, reply, route.url, {
          [CLIENT_IP_HEADER]: this.clientIp(request),
          [INTERNAL_TOKEN_HEADER]: this.#peers.internalToken,
        });
      } catch (error) {
        if (!(error instanceof OwnerUnreachableError)) throw error;
        this.#logger.warn(
          { clusterId, owner: route.url, err: error },
          'Owner of an emulated cluster did not answer',
        );
      }
    }
    void reply.header('retry-after', '1');
    throw new StatusError(
      503,
      'ServiceUnavailable',
      `the emulated cluster ${clusterId} is moving to another mks process; retry shortly`,
    );
  }

  /** Runs a control call where the cluster is owned: here (`local`), or at the owner over HTTPS. */
  async run(call: ControlCall, local: (call: ControlCall) => Promise<ControlResult>): Promise<ControlResult> {
    for (let attempt = 0; ; attempt++) {
      const route = await this.#ownership.route(call.clusterId, { fresh: attempt > 0 });
      if (route.local || this.#peers === undefined) return local(call);
      try {
        return controlResult(
          await this.#peers.forwarder.post(
            route.url,
            controlPath(call),
            this.#peers.internalToken,
            call.body,
          ),
        );
      } catch (error) {
        if (!(error instanceof OwnerUnreachableError) || attempt >= 1) throw error;
      }
    }
  }

  close(): void {
    this.#peers?.forwarder.close();
  }
}
