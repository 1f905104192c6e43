/**
 * A client that sends exactly what go-ovh (v1.7, vendored by the Terraform provider) sends
 * (spec/ovh-api.md §4-5, spec/terraform-provider.md): the signature covers `endpoint + path` as
 * configured, scheme and port included; `Content-Type: application/json;charset=utf-8` only when
 * there is a body; `Accept: application/json` always; the clock delta learnt once from
 * `GET /auth/time`. Responses are read as go-ovh reads them: 2xx decoded as JSON (an empty body
 * is nothing), anything else an `APIError` built from the body and `X-Ovh-QueryID`.
 */
import crypto from 'node:crypto';

export interface GoOvhCredentials {
  readonly endpoint: string;
  readonly applicationKey: string;
  readonly applicationSecret: string;
  readonly consumerKey: string;
}

/** One request as it went on the wire, for asserting call sequences. */
export interface WireCall {
  readonly method: string;
  /** Path below the endpoint, e.g. `/cloud/project/p/kube`. */
  readonly path: string;
  readonly body: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly status: number;
  readonly responseText: string;
  /** Logical time (ms) of the call, from the clock the caller passed. */
  readonly at: number;
}

/** go-ovh's `*ovh.APIError`. */
export class APIError extends Error {
  readonly code: number;
  readonly class: string;
  readonly apiMessage: string;
  readonly details: Record<string, string> | undefined;
  readonly queryId: string;

  constructor(code: number, text: string, queryId: string) {
    let klass = '';
    let message = text;
    let details: Record<string, string> | undefined;
    // json.Unmarshal into {class, message, details map[string]string}: any type mismatch makes
    // the whole body the message, as go-ovh does.
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not an object');
      const body = parsed as Record<string, unknown>;
      if (body.class !== undefined && body.class !== null && typeof body.class !== 'string')
        throw new Error('class');
      if (body.message !== undefined && body.message !== null && typeof body.message !== 'string') {
        throw new Error('message');
      }
      if (body.details !== undefined && body.details !== null) {
        if (typeof body.details !== 'object' || Array.isArray(body.details)) throw new Error('details');
        for (const value of Object.values(body.details))
          if (typeof value !== 'string') throw new Error('details');
        details = body.details as Record<string, string>;
      }
      klass = (body.class as string | undefined) ?? '';
      message = (body.message as string | undefined) ?? '';
    } catch {
      message = text;
    }
    // go-ovh's Error(): `OVHcloud API error (status code %d): %s: %q (X-OVH-Query-Id: %s)`.
    super(
      `OVHcloud API error (status code ${code}): ${klass === '' ? '' : `${klass}: `}${JSON.stringify(message)}${queryId === '' ? '' : ` (X-OVH-Query-Id: ${queryId})`}`,
    );
    this.name = 'APIError';
    this.code = code;
    this.class = klass;
    this.apiMessage = message;
    this.details = details;
    this.queryId = queryId;
  }
}

export class GoOvhClient {
  readonly calls: WireCall[] = [];
  readonly #credentials: GoOvhCredentials;
  readonly #userAgent: string;
  readonly #now: () => number;
  #timeDelta: number | undefined;

  constructor(credentials: GoOvhCredentials, options: { userAgent: string; now: () => number }) {
    if (credentials.endpoint.endsWith('/')) throw new Error('endpoint name cannot have a trailing slash');
    this.#credentials = credentials;
    this.#userAgent = options.userAgent;
    this.#now = options.now;
  }

  /** `client.Get/Post/Put/Delete(path, reqBody, &res)`; `body` is the exact JSON go would marshal. */
  async call<T = unknown>(method: string, path: string, body?: string, needAuth = true): Promise<T> {
    const target = `${this.#credentials.endpoint}${path}`;
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json;charset=utf-8';
    headers['X-Ovh-Application'] = this.#credentials.applicationKey;
    headers.Accept = 'application/json';
    if (needAuth) {
      const delta = await this.#getTimeDelta();
      const timestamp = Math.floor((Date.now() - delta) / 1000);
      headers['X-Ovh-Timestamp'] = String(timestamp);
      headers['X-Ovh-Consumer'] = this.#credentials.consumerKey;
      const digest = crypto
        .createHash('sha1')
        .update(
          `${this.#credentials.applicationSecret}+${this.#credentials.consumerKey}+${method}+${target}+${body ?? ''}+${timestamp}`,
        )
        .digest('hex');
      headers['X-Ovh-Signature'] = `$1$${digest}`;
    }
    headers['User-Agent'] = `github.com/ovh/go-ovh (${this.#userAgent})`;

    const at = this.#now();
    const response = await fetch(target, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    this.calls.push({ method, path, body, headers, status: response.status, responseText: text, at });
    if (response.status < 200 || response.status >= 300) {
      throw new APIError(response.status, text, response.headers.get('x-ovh-queryid') ?? '');
    }
    // "Nothing to unmarshal" for an empty body; otherwise it must decode.
    return (text.length === 0 ? undefined : JSON.parse(text)) as T;
  }

  /** go-ovh's `getTimeDelta`: `GET /auth/time` unsigned, once per client, decoded into an int64. */
  async #getTimeDelta(): Promise<number> {
    if (this.#timeDelta === undefined) {
      const time = await this.call<unknown>('GET', '/auth/time', undefined, false);
      if (typeof time !== 'number' || !Number.isInteger(time)) {
        throw new Error(`json: cannot unmarshal ${JSON.stringify(time)} into Go value of type int64`);
      }
      this.#timeDelta = Date.now() - time * 1000;
    }
    return this.#timeDelta;
  }
}
