/**
 * A signed client for mks's (and OVH's) `/1.0` API, shared by the CLI and tests. It signs as
 * go-ovh does (the configured endpoint URL, scheme and port included) and corrects its clock
 * with `GET /auth/time`, once.
 */

import type { OvhCredentials } from './ovh-conf.ts';
import { signRequest } from './signing.ts';

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly queryId: string | null;
  /** Response headers, lower-case names (the console's inspector shows them). */
  readonly headers?: Readonly<Record<string, string>>;
  /** What was sent: the signed URL, the headers and the exact body (the signature covers them). */
  readonly sent?: {
    readonly url: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: string;
  };
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly queryId: string | null;
  constructor(response: ApiResponse) {
    const body = response.body as { message?: unknown } | null;
    const message = typeof body?.message === 'string' ? body.message : JSON.stringify(response.body);
    super(message);
    this.name = 'ApiError';
    this.status = response.status;
    this.body = response.body;
    this.queryId = response.queryId;
  }
}

export class ApiClient {
  readonly #credentials: OvhCredentials;
  #timeDelta: number | undefined;

  constructor(credentials: OvhCredentials) {
    this.#credentials = { ...credentials, endpoint: credentials.endpoint.replace(/\/+$/, '') };
  }

  get endpoint(): string {
    return this.#credentials.endpoint;
  }

  /** Calls `path` (relative to the endpoint, e.g. `/cloud/project`); never throws on HTTP errors. */
  async raw<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const relative = path.startsWith('/1.0/') ? path.slice('/1.0'.length) : path;
    const url = `${this.#credentials.endpoint}${relative.startsWith('/') ? '' : '/'}${relative}`;
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'X-Ovh-Application': this.#credentials.applicationKey,
    };
    if (text !== '') headers['Content-Type'] = 'application/json;charset=utf-8';
    if (!/\/auth\/time$/.test(relative)) {
      const timestamp = Math.floor(Date.now() / 1000) + (await this.#delta());
      headers['X-Ovh-Consumer'] = this.#credentials.consumerKey;
      headers['X-Ovh-Timestamp'] = String(timestamp);
      headers['X-Ovh-Signature'] = signRequest({
        secret: this.#credentials.applicationSecret,
        consumerKey: this.#credentials.consumerKey,
        method: method.toUpperCase(),
        url,
        body: text,
        timestamp,
      });
    }
    const response = await fetch(url, {
      method: method.toUpperCase(),
      headers,
      body: text === '' ? undefined : text,
    });
    const responseText = await response.text();
    let parsed: unknown = responseText;
    try {
      parsed = responseText === '' ? null : JSON.parse(responseText);
    } catch {
      // Not JSON: keep the text (go-ovh does the same).
    }
    return {
      status: response.status,
      body: parsed as T,
      queryId: response.headers.get('x-ovh-queryid'),
      headers: Object.fromEntries(response.headers),
      sent: { url, headers, body: text },
    };
  }

  /** Like `raw`, but throws an `ApiError` for any status outside 2xx. */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.raw<T>(method, path, body);
    if (response.status < 200 || response.status > 299) throw new ApiError(response);
    return response.body;
  }

  async #delta(): Promise<number> {
    if (this.#timeDelta === undefined) {
      const response = await fetch(`${this.#credentials.endpoint}/auth/time`);
      const serverTime = Number(await response.text());
      this.#timeDelta = Number.isFinite(serverTime) ? serverTime - Math.floor(Date.now() / 1000) : 0;
    }
    return this.#timeDelta;
  }
}
