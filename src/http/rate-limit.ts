/**
 * A per-credential request rate limit on `/1.0`: a token bucket per consumer key, refilled at
 * `requestsPerSecond` up to `burst`. Past it, 429 in OVH's body with Retry-After. Counted after
 * authentication, so a client cannot spend another credential's budget without its secret.
 * Generous by default (MKS_RATE_LIMIT_PER_SECOND, MKS_RATE_LIMIT_BURST; 0 per second turns it off).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

export interface RateLimit {
  readonly requestsPerSecond: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept at most; idle ones (full again) are the first dropped when it is reached. */
const MAX_BUCKETS = 100_000;

export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.#limit = limit;
    this.#now = now;
  }

  /** Takes one request from `key`'s budget: 0 when allowed, else the seconds until one is. */
  take(key: string): number {
    const { requestsPerSecond, burst } = this.#limit;
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#sweep(now);
      bucket = { tokens: burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * requestsPerSecond);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / requestsPerSecond);
  }

  #sweep(now: number): void {
    const { requestsPerSecond, burst } = this.#limit;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * requestsPerSecond >= burst) this.#buckets.delete(key);
    }
    // Everyone is busy: start over rather than grow without bound.
    if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.clear();
  }
}

/**
 * The limit as a check run after authentication (app.ts runs it in each route's admission, before
 * the project check and the route's own work): throws a 429 with Retry-After past the budget.
 * Undefined when the limit is off. No promise: it is on every signed call (docs/performance.md).
 */
export function rateLimitCheck(
  limit: RateLimit,
): ((request: FastifyRequest, reply: FastifyReply) => void) | undefined {
  if (limit.requestsPerSecond <= 0) return undefined;
  const limiter = new RateLimiter(limit);
  return (request, reply) => {
    const credential = request.auth?.credential.id;
    const wait = credential === undefined ? 0 : limiter.take(String(credential));
    if (wait === 0) return;
    void reply.header('Retry-After', String(wait));
    throw new AppError('TooManyRequests', `Too many requests for this credential; retry in ${wait} s`);
  };
}
