/**
 * Section `api`: signed `GET` and `PUT /cloud/project/{sn}/kube/{id}/customization` against a real
 * mks server, per database dialect, compared with the bare Fastify hello route.
 *
 * Every case gets a fresh server process (and, on PostgreSQL, a fresh database) holding one
 * cluster, and is measured in `--rounds` rounds (3), each the hello route then the case; the judged
 * ratio is the median of the rounds' ratios (the lower middle one for an even count). Requests are
 * signed once per round, as OVH clients sign them (the endpoint URL, the body and a timestamp): a
 * signature stays valid for the server's 180 s window, and one timestamp for the whole round is
 * allowed. The PUT case alternates between two customizations, so every request is a real change
 * (a new generation, a history row).
 */
import { signRequest } from '../src/auth/authenticator.ts';
import type { OvhCredentials } from '../src/client/ovh-conf.ts';
import { type BenchContext, judge, lowerMedian, type Measurement, type Row } from './lib/context.ts';
import type { BodyCheck, LoadRequest } from './lib/load.ts';
import type { Dialect } from './lib/options.ts';
import { createPostgresDatabase, postgresAvailable } from './lib/postgres.ts';

/**
 * Hello's server CPU per request ÷ the case's (issue 17's targets): a signed GET should cost at
 * most 1/0.7 of hello's server work on SQLite, a signed PUT 1/0.3.
 */
export const API_TARGETS: Record<Dialect, { get: number; put: number }> = {
  sqlite: { get: 0.7, put: 0.3 },
  postgres: { get: 0.25, put: 0.15 },
};

const PUT_BODIES = [
  '{"kubeProxy":{"iptables":{"syncPeriod":"PT30S"}}}',
  '{"kubeProxy":{"iptables":{"syncPeriod":"PT31S"}}}',
];

interface MksReady {
  port: number;
  publicUrl: string;
  credentials: OvhCredentials;
  projectId: string;
  clusterId: string;
}

type CaseName = 'get' | 'put';

export async function runApi(context: BenchContext): Promise<Row[]> {
  const rows: Row[] = [];
  for (const dialect of context.options.dialects) {
    if (dialect === 'postgres' && !postgresAvailable()) {
      for (const name of ['get', 'put'] as const) {
        rows.push(skipped(name, dialect, 'no PostgreSQL server binaries under /usr/lib/postgresql'));
      }
      continue;
    }
    for (const name of ['get', 'put'] as const) {
      const row = await runCase(context, dialect, name);
      context.progress(row);
      rows.push(row);
    }
  }
  return rows;
}

async function runCase(context: BenchContext, dialect: Dialect, name: CaseName): Promise<Row> {
  const env: NodeJS.ProcessEnv = {};
  if (dialect === 'postgres') env.BENCH_DATABASE_URL = await createPostgresDatabase();
  const server = await context.startServer('mks', { env, profileName: `mks-${dialect}-${name}` });
  const rounds: Round[] = [];
  let refusal: string | undefined;
  let profile: Row['profile'];
  try {
    const ready = server.child.ready as unknown as MksReady;
    const check = await preflight(ready, signedRequests(ready, name)[0]!, name);
    if (typeof check === 'string') {
      // The server's log says why (its error handler logs failures with the query id).
      const log = server.child.output().trim().split('\n').slice(-3).join('\n    ');
      refusal = `${check}\n    server log: ${log}`;
    } else {
      const url = `http://127.0.0.1:${ready.port}`;
      // Hello and the case alternate: the machine's speed drifts over minutes (the same code read
      // 50–87 % in single pairs), and each round's ratio compares two windows seconds apart.
      for (let round = 0; round < context.options.rounds; round++) {
        const hello = await context.measureHello();
        // Signed afresh each round: the server accepts a timestamp for 180 s.
        const requests = signedRequests(ready, name);
        rounds.push({ hello, measurement: await context.measure(server.child, { url, requests, check }) });
      }
    }
  } finally {
    profile = await server.stop();
  }
  const base = {
    section: 'api',
    name: caseTitle(name),
    dialect,
    target: API_TARGETS[dialect][name],
    profile,
  };
  if (rounds.length === 0) {
    return {
      ...base,
      measurement: undefined,
      helloRps: undefined,
      ratio: undefined,
      verdict: 'FAILED',
      note: refusal,
    };
  }
  const judged = rounds.map((round) => judge({ ...base, measurement: round.measurement }, round.hello));
  // A failed round fails the case; else the round whose ratio is the median is the case's row.
  const failed = judged.find((row) => row.verdict === 'FAILED');
  if (failed !== undefined) return failed;
  const median = lowerMedian(judged, (row) => row.ratio!)!;
  if (judged.length === 1) return median;
  const ratios = judged.map((row) => `${(row.ratio! * 100).toFixed(1)}`).join(', ');
  return {
    ...median,
    roundRatios: judged.map((row) => row.ratio!),
    note: `median of ${judged.length} rounds, each hello then the case: ${ratios} % of hello by CPU/req`,
  };
}

interface Round {
  readonly hello: Measurement;
  readonly measurement: Measurement;
}

function caseTitle(name: CaseName): string {
  return name === 'get' ? 'GET customization (signed)' : 'PUT customization (signed)';
}

function signedRequests(ready: MksReady, name: CaseName): LoadRequest[] {
  const path = `/1.0/cloud/project/${ready.projectId}/kube/${ready.clusterId}/customization`;
  const url = `${ready.publicUrl}${path.slice('/1.0'.length)}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const { applicationKey, applicationSecret, consumerKey } = ready.credentials;
  const sign = (method: string, body: string): LoadRequest => {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-ovh-application': applicationKey,
      'x-ovh-consumer': consumerKey,
      'x-ovh-timestamp': String(timestamp),
      'x-ovh-signature': signRequest({
        secret: applicationSecret,
        consumerKey,
        method,
        url,
        body,
        timestamp,
      }),
    };
    if (body === '') return { method, path, headers };
    return { method, path, headers: { ...headers, 'content-type': 'application/json' }, body };
  };
  return name === 'get' ? [sign('GET', '')] : PUT_BODIES.map((body) => sign('PUT', body));
}

/**
 * One request before the load: it must succeed, and its answer tells what every answer of the
 * run must be (GET: this exact body; PUT: an acceptance message). A string is the reason it failed.
 */
async function preflight(ready: MksReady, request: LoadRequest, name: CaseName): Promise<BodyCheck | string> {
  const response = await fetch(`http://127.0.0.1:${ready.port}${request.path}`, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  const text = await response.text();
  if (!response.ok) return `preflight ${request.method} answered ${response.status}: ${text.slice(0, 300)}`;
  if (name === 'get') return { equals: text };
  const prefix = 'Customization accepted';
  const message = (JSON.parse(text) as { message?: string }).message;
  if (!message?.startsWith(prefix)) return `preflight PUT answered an unexpected body: ${text.slice(0, 300)}`;
  return { startsWith: `{"message":"${prefix}` };
}

function skipped(name: CaseName, dialect: Dialect, note: string): Row {
  return {
    section: 'api',
    name: caseTitle(name),
    dialect,
    measurement: undefined,
    helloRps: undefined,
    ratio: undefined,
    target: API_TARGETS[dialect][name],
    verdict: 'SKIPPED',
    note,
    profile: undefined,
  };
}
