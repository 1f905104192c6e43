/**
 * Property-based fuzzing of the emulated clusters' Kubernetes API (fast-check, seeded): reads,
 * writes, patches of every flavour and watches, with mutated bodies, content types, query
 * parameters and paths. Whatever arrives: no 5xx, and every refusal is a Kubernetes `Status`.
 *
 * MKS_FUZZ_RUNS scales the cases (default 1200 here too, a fifth of them on the slower paths);
 * MKS_FUZZ_SEED replays a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server.ts';
import { readyCluster } from './ready-cluster.ts';

const RUNS = Math.max(50, Math.floor(Number(process.env.MKS_FUZZ_RUNS ?? 1200) / 2));
const SEED =
  process.env.MKS_FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.MKS_FUZZ_SEED);

const PATHS = [
  '/api/v1/namespaces/default/configmaps',
  '/api/v1/namespaces/default/configmaps/fuzzed',
  '/api/v1/namespaces/kube-system/configmaps/kube-proxy',
  '/api/v1/namespaces/kube-system/configmaps/kube-proxy/status',
  '/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy',
  '/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy/status',
  '/api/v1/namespaces/default/pods/fuzzed',
  '/api/v1/namespaces/fuzzed',
  '/api/v1/namespaces',
  '/api/v1/nodes',
  '/api/v1/namespaces/default/serviceaccounts',
  '/apis/apps/v1/controllerrevisions',
  '/api/v1/watch/namespaces/default/configmaps',
  '/api/v1/namespaces/default/unknowns/x',
  '/apis/nothing/v1/things',
  '/openapi/v3/api/v1',
  '/openapi/v2',
  '/version',
  '',
];

const VALID = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'fuzzed', labels: { a: 'b' }, annotations: { x: 'y' } },
  data: { key: 'value' },
};

const nasty = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '',
    '-',
    '..',
    'A',
    'a'.repeat(300),
    'fuzzed',
    'kube-proxy',
    '*',
    '!',
    'x=y',
    '0',
    '-1',
    '1e999',
  ),
  fc.constantFrom(null, true, 0, -1, 1.5, [], {}, [null], { '': null }),
  fc.jsonValue({ maxDepth: 3 }),
);

function mutate(value: unknown): fc.Arbitrary<unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return nasty;
  const entries = Object.entries(value);
  return fc.oneof(
    nasty,
    fc.tuple(fc.string({ maxLength: 10 }), nasty).map(([k, v]) => ({ ...value, [k]: v })),
    ...entries.map(([key, child]) => mutate(child).map((m) => ({ ...value, [key]: m }))),
    ...entries.map(([key]) => fc.constant(Object.fromEntries(entries.filter(([k]) => k !== key)))),
  );
}

const jsonPatchOp = fc.record({
  op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus'),
  path: fc.constantFrom(
    '',
    '/',
    '/data',
    '/data/key',
    '/metadata/labels/a',
    '/x/y/z',
    '/spec/template',
    '/-',
    '~',
    '/data/~1',
  ),
  from: fc.constantFrom(undefined, '/data', '/nope'),
  value: nasty,
});

const body = fc.oneof(
  { weight: 3, arbitrary: mutate(VALID).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.array(jsonPatchOp, { maxLength: 3 }).map((ops) => JSON.stringify(ops)) },
  { weight: 1, arbitrary: nasty.map((v) => JSON.stringify(v) ?? '') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('a: &a [*a]', 'a: *b', '- - - -', 'key: [1, 2', '{"a":1}{', '\u0000', ''),
  },
);

const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.constantFrom(
            'labelSelector',
            'fieldSelector',
            'resourceVersion',
            'timeoutSeconds',
            'watch',
            'dryRun',
            'fieldManager',
            'force',
            'limit',
            'continue',
            'sendInitialEvents',
            'includeObject',
            'propagationPolicy',
          ),
          fc.oneof(
            fc.constantFrom(
              '',
              'a=b',
              'a!=b',
              'a in (b)',
              'a,',
              '!',
              'metadata.name=x',
              'x==',
              '1',
              '0',
              'true',
              'All',
              '-5',
              'abc',
            ),
            fc.string({ maxLength: 20 }),
          ),
        ),
        { maxLength: 3 },
      )
      .map(
        (pairs) =>
          `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v.replace(/[\uD800-\uDFFF]/g, ''))}`).join('&')}`,
      ),
  },
);

describe('fuzzing the Kubernetes API', () => {
  let server: TestServer;
  let prefix: string;
  let token: string;

  before(async () => {
    server = await startTestServer('sqlite', { MKS_MIN_REQUEST_TIMEOUT: '1' });
    const ready = await readyCluster(server.client, `/cloud/project/${server.projectId}/kube`);
    prefix = ready.prefix;
    token = ready.access.token;
  });
  after(() => server?.close());

  test(`${RUNS} mutated calls: no 5xx, refusals as a Status`, async (t) => {
    t.diagnostic(`fast-check seed ${SEED} (MKS_FUZZ_SEED=${SEED} to replay)`);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
          path: fc.constantFrom(...PATHS),
          query,
          body: fc.option(body, { nil: undefined }),
          contentType: fc.constantFrom(
            'application/json',
            'application/merge-patch+json',
            'application/strategic-merge-patch+json',
            'application/json-patch+json',
            'application/apply-patch+yaml',
            'application/yaml',
            'application/vnd.kubernetes.protobuf',
            'text/plain',
          ),
          accept: fc.constantFrom(
            'application/json',
            'application/json;as=Table;v=v1;g=meta.k8s.io',
            'application/vnd.kubernetes.protobuf',
            '*/*',
          ),
        }),
        async (call) => {
          // A watch streams until its timeout: the first `timeoutSeconds` wins, so 1 s goes first
          // (and the server's own choice is short too, MKS_MIN_REQUEST_TIMEOUT=1).
          const query = call.query === '' ? '?timeoutSeconds=1' : `?timeoutSeconds=1&${call.query.slice(1)}`;
          const response = await server.runtime.kubeApp.inject({
            method: call.method as 'GET',
            url: `${prefix}${call.path}${query}`,
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': call.contentType,
              accept: call.accept,
            },
            ...(call.body === undefined ? {} : { payload: call.body }),
          });
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          assert.ok(
            response.statusCode < 500,
            `no 5xx: ${response.statusCode} ${response.body.slice(0, 300)}`,
          );
          if (response.statusCode >= 400) {
            const status = JSON.parse(response.body) as Record<string, unknown>;
            assert.equal(status.kind, 'Status', response.body.slice(0, 300));
            assert.equal(status.code, response.statusCode);
          }
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
    );
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    assert.ok((statuses.get(200) ?? 0) + (statuses.get(201) ?? 0) > RUNS / 20, 'some calls are accepted');
  });
});
