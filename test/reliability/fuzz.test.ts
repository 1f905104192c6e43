/**
 * Property-based fuzzing of `/1.0` (fast-check, seeded): every operation of the OpenAPI document
 * and paths that do not exist, with mutated bodies, path parameters, methods and headers, on every
 * engine. Whatever arrives: no 5xx, every answer in OVH's format with a query id, and a refused
 * request leaves the stored state exactly as it was.
 *
 * MKS_FUZZ_RUNS sets the cases per engine (default 1200); MKS_FUZZ_SEED replays a run (the seed
 * is printed as a test diagnostic, and by fast-check with the shrunk case when a property fails).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { DIALECTS } from '../support/dialects.ts';
import { ovhAuthHeaders } from '../support/ovh-headers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const RUNS = Number(process.env.MKS_FUZZ_RUNS ?? 1200);
const SEED =
  process.env.MKS_FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.MKS_FUZZ_SEED);

interface Operation {
  readonly method: string;
  /** OpenAPI path template, e.g. `/1.0/cloud/project/{serviceName}/kube/{kubeId}`. */
  readonly path: string;
  readonly hasBody: boolean;
}

const document = JSON.parse(fs.readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, { requestBody?: unknown }>>;
};
/**
 * Calls that, accepted, end or fence the fuzzing credential itself (sign-out, revoking or
 * narrowing its own key or application): every later case would be a 403 and test nothing.
 * test/console/console-api.test.ts covers them, bad input included.
 */
const ENDS_OWN_CREDENTIAL = new Set([
  'POST /1.0/auth/logout',
  'PUT /1.0/me/api/credential/{credentialId}',
  'DELETE /1.0/me/api/credential/{credentialId}',
  'DELETE /1.0/me/api/application/{applicationId}',
]);
const ALL_OPERATIONS: readonly Operation[] = Object.entries(document.paths).flatMap(([path, operations]) =>
  Object.entries(operations).map(([method, operation]) => ({
    method: method.toUpperCase(),
    path,
    hasBody: operation.requestBody !== undefined,
  })),
);
for (const name of ENDS_OWN_CREDENTIAL) {
  if (!ALL_OPERATIONS.some((operation) => `${operation.method} ${operation.path}` === name))
    throw new Error(`fuzz: ${name} is no longer in docs/openapi.json; update ENDS_OWN_CREDENTIAL`);
}
const OPERATIONS = ALL_OPERATIONS.filter(
  (operation) => !ENDS_OWN_CREDENTIAL.has(`${operation.method} ${operation.path}`),
);

/** Paths no route serves, beside and below the real ones. */
const UNKNOWN_PATHS = [
  '/',
  '/1.0',
  '/1.0/',
  '/1.0/cloud',
  '/1.0/cloud/project/{serviceName}/kube/{kubeId}/nodepool',
  '/1.0/cloud/project/{serviceName}/kube/{kubeId}/customization/extra',
  '/1.0/cloud/project/{serviceName}/unknown',
  '/1.0/me',
  '/2.0/cloud/project',
  '/1.0/auth/../cloud/project',
  '/1.0//cloud//project',
];

/** A valid body per operation, which mutations start from. */
const VALID_BODIES: Readonly<Record<string, unknown>> = {
  'POST /1.0/auth/credential': { accessRules: [{ method: 'GET', path: '/*' }] },
  'POST /1.0/cloud/project/{serviceName}/kube': { region: 'GRA5', name: 'fuzzed' },
  'PUT /1.0/cloud/project/{serviceName}/kube/{kubeId}': { name: 'renamed' },
  'PUT /1.0/cloud/project/{serviceName}/kube/{kubeId}/updatePolicy': { updatePolicy: 'ALWAYS_UPDATE' },
  'POST /1.0/cloud/project/{serviceName}/kube/{kubeId}/reset': { kubeProxyMode: 'iptables' },
  'PUT /1.0/cloud/project/{serviceName}/kube/{kubeId}/customization': {
    kubeProxy: { iptables: { minSyncPeriod: 'PT1S', syncPeriod: 'PT30S' } },
    apiServer: { admissionPlugins: { enabled: ['NodeRestriction'], disabled: ['AlwaysPullImages'] } },
  },
};

/** Strings that have broken parsers elsewhere: encodings, separators, huge and odd values. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '%',
    '%00',
    '%ZZ',
    '%E0%A4%A',
    '..',
    '../..',
    '/',
    '\u0000',
    '\uD800',
    '__proto__',
    'constructor',
    'PT1S',
    'P1Y',
    '-PT1S',
    'PT0.0000000001S',
    'P99999999999999999999D',
    'NaN',
    '1e309',
    'GRA5',
    'ipvs',
    'AlwaysPullImages',
    '*',
    'a'.repeat(300),
    '😀'.repeat(50),
  ),
);

/** A JSON value with odd shapes and numbers. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, [], {}),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** `value` with one leaf replaced, one key added or removed, at any depth. */
function mutate(value: unknown): fc.Arbitrary<unknown> {
  if (value === null || typeof value !== 'object') return nastyValue;
  const entries = Array.isArray(value)
    ? value.map((item, i) => [String(i), item] as const)
    : Object.entries(value);
  const choices: fc.Arbitrary<unknown>[] = [
    nastyValue,
    fc.tuple(nastyString, nastyValue).map(([key, added]) => ({ ...(value as object), [key]: added })),
  ];
  for (const [key, child] of entries) {
    choices.push(
      mutate(child).map((mutated) => {
        if (Array.isArray(value)) return value.map((item, i) => (String(i) === key ? mutated : item));
        return { ...(value as object), [key]: mutated };
      }),
      fc.constant(
        Array.isArray(value)
          ? value.filter((_item, i) => String(i) !== key)
          : Object.fromEntries(entries.filter(([other]) => other !== key)),
      ),
    );
  }
  return fc.oneof(...choices);
}

interface Case {
  readonly operation: Operation;
  readonly method: string;
  readonly params: Readonly<Record<string, string>>;
  /** Raw body text (undefined: none sent). */
  readonly body: string | undefined;
  readonly contentType: string | undefined;
  readonly auth: 'signed' | 'unsigned' | 'bad-signature' | 'stale' | 'other-consumer';
  readonly query: string;
  /** Headers added or overriding the client's (OVH's own included). */
  readonly headers: Readonly<Record<string, string>>;
}

function caseArbitrary(ids: { project: string; cluster: string }): fc.Arbitrary<Case> {
  const operation = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...OPERATIONS) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...UNKNOWN_PATHS), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'))
        .map(([path, method]) => ({ method, path, hasBody: method === 'POST' || method === 'PUT' })),
    },
  );
  const param = (real: string) =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(real) },
      { weight: 1, arbitrary: fc.uuid().map(String) },
      {
        weight: 1,
        arbitrary: nastyString.map((text) => encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, '\uFFFD'))),
      },
      { weight: 1, arbitrary: fc.constantFrom('%ZZ', '%E0%A4%A', 'a'.repeat(200), '..', '%2F') },
    );
  return operation.chain((op) => {
    const valid = VALID_BODIES[`${op.method} ${op.path}`] ?? {};
    const body = fc.oneof(
      { weight: 2, arbitrary: fc.constant(JSON.stringify(valid)) },
      { weight: 6, arbitrary: mutate(valid).map((mutated) => JSON.stringify(mutated) ?? '') },
      { weight: 1, arbitrary: nastyString },
      {
        weight: 1,
        arbitrary: fc
          .nat({ max: 200 })
          .map((depth) => `${'{"kubeProxy":'.repeat(depth)}{}${'}'.repeat(depth)}`),
      },
    );
    return fc.record({
      operation: fc.constant(op),
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constant(op.method) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
      ),
      params: fc.record({ serviceName: param(ids.project), kubeId: param(ids.cluster) }),
      body: op.hasBody
        ? fc.oneof({ weight: 9, arbitrary: body }, { weight: 1, arbitrary: fc.constant(undefined) })
        : fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: body }),
      contentType: fc.oneof(
        { weight: 6, arbitrary: fc.constant('application/json') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            undefined,
            'application/json;charset=utf-8',
            'text/plain',
            'application/xml',
            'multipart/form-data; boundary=x',
            'application/x-www-form-urlencoded',
            '',
            ';;;',
          ),
        },
      ),
      auth: fc.oneof(
        { weight: 8, arbitrary: fc.constant('signed' as const) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('unsigned' as const, 'bad-signature' as const, 'stale' as const),
        },
      ),
      headers: fc.oneof(
        { weight: 6, arbitrary: fc.constant({}) },
        {
          weight: 1,
          arbitrary: fc.dictionary(
            fc.constantFrom(
              'x-ovh-timestamp',
              'x-ovh-consumer',
              'x-ovh-application',
              'x-ovh-signature',
              'accept',
              'content-length',
              'content-encoding',
              'transfer-encoding',
              'x-forwarded-for',
              'x-ovh-queryid',
            ),
            // Printable ASCII: what a header value can carry on the wire.
            fc.oneof(
              fc.stringMatching(/^[ -~]{0,40}$/),
              fc.constantFrom('', '-1', '1e99', 'gzip', 'chunked', '$1$'),
            ),
            { maxKeys: 3 },
          ),
        },
      ),
      query: fc.oneof(
        { weight: 6, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.constantFrom('?a=1', '?%ZZ=1', '?a[b]=c&a=1', `?${'x'.repeat(3000)}`) },
      ),
    });
  });
}

/** Every stored row, minus what reads legitimately touch (a credential's last use, leases). */
async function snapshot(server: TestServer): Promise<string> {
  const { db } = server.services.database;
  const tables = (await db.introspection.getTables())
    .map((table) => table.name)
    .filter((name) => !/^kysely_|owner|lease/.test(name))
    .sort();
  const rows: Record<string, unknown[]> = {};
  for (const table of tables) {
    const result = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db);
    rows[table] = result.rows.map(({ last_use: _lastUse, ...row }) => JSON.stringify(row)).sort();
  }
  return JSON.stringify(rows);
}

async function send(server: TestServer, fuzz: Case) {
  const path = fuzz.operation.path.replace(/\{(\w+)\}/g, (_match, name: string) => fuzz.params[name] ?? name);
  const url = `${path}${fuzz.query}`;
  const body = fuzz.body ?? '';
  const signed = ovhAuthHeaders(
    server.credentials,
    fuzz.auth === 'bad-signature' ? 'DELETE' : fuzz.method,
    `${server.baseUrl}${url}`,
    body,
  );
  if (fuzz.auth === 'stale') signed['X-Ovh-Timestamp'] = String(Number(signed['X-Ovh-Timestamp']) - 3600);
  const headers: Record<string, string> =
    fuzz.auth === 'unsigned' ? { 'X-Ovh-Application': server.credentials.applicationKey } : signed;
  if (fuzz.contentType !== undefined) headers['content-type'] = fuzz.contentType;
  Object.assign(headers, fuzz.headers);
  return server.app.inject({
    method: fuzz.method as 'GET',
    url,
    headers,
    ...(fuzz.body === undefined ? {} : { payload: fuzz.body }),
  });
}

for (const dialect of DIALECTS) {
  describe(`fuzzing /1.0 (${dialect})`, () => {
    let server: TestServer;
    let ids: { project: string; cluster: string };

    before(async () => {
      // No worker: the stored state changes only through the requests under test.
      server = await startTestServer(dialect, { MKS_WORKER: 'false' });
      const cluster = await server.client.call<{ id: string }>(
        'POST',
        `/cloud/project/${server.projectId}/kube`,
        { region: 'GRA5', name: 'fuzz-target' },
      );
      ids = { project: server.projectId, cluster: cluster.id };
    });
    after(() => server?.close());

    test(`${RUNS} mutated requests: no 5xx, OVH's format, refusals change nothing`, async (t) => {
      t.diagnostic(`fast-check seed ${SEED} (MKS_FUZZ_SEED=${SEED} MKS_FUZZ_RUNS=${RUNS} to replay)`);
      const statuses = new Map<number, number>();
      // The state every refused request must leave as it is; taken again after each accepted one.
      let stored = await snapshot(server);
      await fc.assert(
        fc.asyncProperty(caseArbitrary(ids), async (fuzz) => {
          const response = await send(server, fuzz);
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          assert.ok(response.statusCode < 500, `no 5xx, got ${response.statusCode}: ${response.body}`);
          assert.ok(response.headers['x-ovh-queryid'], 'an X-Ovh-QueryID header');
          if (response.statusCode >= 400) {
            if (fuzz.method !== 'HEAD') {
              const body = JSON.parse(response.body) as Record<string, unknown>;
              assert.equal(typeof body.message, 'string', `a message in ${response.body}`);
              if (body.errorCode === undefined) assert.match(String(body.class), /^Client::[A-Za-z]+$/);
              else assert.match(String(body.httpCode), new RegExp(`^${response.statusCode} `));
              assert.ok(
                String(body.message).length < 1000,
                `a short message: ${response.body.slice(0, 200)}`,
              );
            }
            const after_ = await snapshot(server);
            if (after_ !== stored) {
              stored = after_;
              assert.fail('a refused request changed the stored state');
            }
          } else stored = await snapshot(server);
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
      );
      t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
      // The cases reach every layer, not only the signature check.
      assert.ok((statuses.get(200) ?? 0) > RUNS / 20, 'some requests are accepted');
      assert.ok((statuses.get(400) ?? 0) > RUNS / 20, 'many reach validation');
    });
  });
}
