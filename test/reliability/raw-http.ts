/**
 * Requests as a hostile client writes them: bytes on a raw socket, so the HTTP parser, the router
 * and the body parser see exactly what is sent (fetch would refuse or fix most of it).
 */

import crypto from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { KubeAccess } from '../support/kube.ts';

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The body as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

/** Writes `text` to a connection to `url`'s host and port and reads the first answer. */
export function rawRequest(
  url: string,
  text: string | Buffer,
  options: { ca?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket =
      protocol === 'https:'
        ? tls.connect({ host: hostname, port: Number(port), ca: options.ca, servername: 'localhost' })
        : net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    const finish = () => {
      const response = parseResponse(Buffer.concat(chunks));
      if (response === undefined) return false;
      clearTimeout(timer);
      socket.destroy();
      resolve(response);
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      finish();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!finish()) {
        clearTimeout(timer);
        reject(new Error(`connection closed without a complete answer: ${Buffer.concat(chunks)}`));
      }
    });
    socket.write(text);
  });
}

/** One HTTP/1.1 response with a Content-Length (or chunked) body; undefined while incomplete. */
function parseResponse(data: Buffer): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (body.length < length) return undefined;
    body = body.subarray(0, length);
  } else if (headers['transfer-encoding'] === 'chunked') {
    const decoded: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const lineEnd = body.indexOf('\r\n', offset);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(body.subarray(offset, lineEnd).toString(), 16);
      if (size === 0) break;
      if (body.length < lineEnd + 2 + size + 2) return undefined;
      decoded.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      offset = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(decoded);
  }
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, body: text, json };
}

/** An HTTP/1.1 request's text; a body gets its Content-Length unless `headers` sets one. */
export function requestText(
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body = '',
): string {
  const all: Record<string, string> = { Host: '127.0.0.1', Connection: 'close', ...headers };
  if (body !== '' && !Object.keys(all).some((name) => name.toLowerCase() === 'content-length'))
    all['Content-Length'] = String(Buffer.byteLength(body));
  const head = Object.entries(all).map(([name, value]) => `${name}: ${value}`);
  return `${method} ${target} HTTP/1.1\r\n${head.join('\r\n')}\r\n\r\n${body}`;
}

export interface OpenWatch {
  readonly status: number;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  /** The stream's text so far. */
  text(): string;
  close(): void;
}

/**
 * The path a cluster's API lives under in its server URL: '' for a kubeconfig without a path
 * (routed by TLS server name), `/k8s/<id>` for the former form.
 */
export function serverPath(server: string): string {
  return new URL(server).pathname.replace(/\/$/, '');
}

/** Opens a watch over HTTPS; resolves once the server has sent its headers. */
export function openWatch(kube: KubeAccess, path: string): Promise<OpenWatch> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      new URL(path, kube.server),
      {
        headers: { Authorization: `Bearer ${kube.token}` },
        ca: kube.ca,
        ...(kube.serverName === undefined ? {} : { servername: kube.serverName }),
      },
      (response) => {
        const ended = new Promise<void>((done) => response.on('close', () => done()));
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        resolve({
          status: response.statusCode ?? 0,
          ended,
          text: () => text,
          close: () => request.destroy(),
        });
      },
    );
    request.on('error', reject);
  });
}

export interface KubeCall {
  readonly startedAt: number;
  readonly status: number;
  readonly kind: unknown;
}

/**
 * Kubernetes API calls in three loops (ConfigMap creates and lists in `default`) until `stop()`;
 * every answer is kept with the time its call started.
 */
export function kubeLoad(kube: KubeAccess, token: string) {
  const calls: KubeCall[] = [];
  let running = true;
  let n = 0;
  // Names of this load's own: two loads on one cluster must not collide (409) on each other's.
  const tag = crypto.randomBytes(3).toString('hex');
  const loop = async () => {
    while (running) {
      const startedAt = performance.now();
      const name = `race-${tag}-${n++}`;
      const create = n % 2 === 0;
      const body = JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name },
        data: { n: '1' },
      });
      const path = `${serverPath(kube.server)}/api/v1/namespaces/default/configmaps`;
      const response = await rawRequest(
        kube.server,
        requestText(
          create ? 'POST' : 'GET',
          path,
          { Authorization: `Bearer ${token}`, ...(create ? { 'Content-Type': 'application/json' } : {}) },
          create ? body : '',
        ),
        { ca: kube.ca?.toString() },
      );
      calls.push({ startedAt, status: response.status, kind: (response.json as { kind?: unknown })?.kind });
    }
  };
  const loops = Promise.all([loop(), loop(), loop()]);
  return {
    calls,
    async stop() {
      running = false;
      await loops;
    },
  };
}
