/**
 * The `ovh/ovh` Terraform provider's documented behaviour (spec/terraform-provider.md), replayed
 * against a running mks — real HTTP, the full runtime with its reconciler, so statuses move for
 * real — through a go-ovh-faithful client and Terraform's StateChangeConf waiter on a shortened
 * clock. The provider binary cannot be installed here; this suite is the proof that it would work.
 */
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { NEWEST_MINOR } from '../../src/clusters/versions.ts';
import { DIALECTS } from '../support/dialects.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { APIError, GoOvhClient } from './go-ovh.ts';
import {
  type KubeConfig,
  type KubeState,
  kubeProxyJson,
  ProviderPanic,
  planDiff,
  readIntoState,
} from './kube-resource.ts';
import {
  type NodePoolConfig,
  type NodePoolState,
  nodePoolCreateBody,
  nodePoolPlanDiff,
  nodePoolUpdateBody,
  readNodePool,
} from './nodepool-resource.ts';
import { Clock, type Poll, type Refreshed, waitForState } from './state-change.ts';

/** Logical seconds run 50 times faster: the provider's 5 s delay is 100 ms of wall time. */
const TIME_SCALE = 0.02;
/** Pods that take a moment to start, so INSTALLING and REDEPLOYING are seen by the polls. */
const ENV = { MKS_POD_START_MS: '300', MKS_PROGRESS_MS: '50' };
const USER_AGENT = 'Terraform/1.9.8/2.9.0';
const MINUTE = 60_000;

/** Poll times of StateChangeConf{Delay: 5 s, MinTimeout: 3 s}: 5 s, then +3, +6, +10, +10 s... */
function pollSchedule(count: number): number[] {
  const times = [5_000, 8_000, 14_000];
  while (times.length < count) times.push(times.at(-1)! + 10_000);
  return times.slice(0, count);
}

/** The observed create body when nothing optional is set (v2.9-era provider). */
const MINIMAL_CREATE_BODY =
  '{"name":"probe","privateNetworkConfiguration":{"defaultVrackGateway":"","privateNetworkRoutingAsDefault":false},"region":"GRA11","customization":{"apiServer":{"admissionPlugins":{}},"kubeProxy":{"iptables":{},"ipvs":{}}}}';

/** examples/terraform/main.tf (the guide's resource), as the provider sees it. */
const exampleConfig = (serviceName: string): KubeConfig => ({
  service_name: serviceName,
  region: 'GRA5',
  name: 'my_kube_cluster',
  kube_proxy_mode: 'ipvs',
  customization_kube_proxy: {
    iptables: { min_sync_period: 'PT0S', sync_period: 'PT0S' },
    ipvs: {
      min_sync_period: 'PT0S',
      sync_period: 'PT0S',
      scheduler: 'rr',
      tcp_timeout: 'PT0S',
      tcp_fin_timeout: 'PT0S',
      udp_timeout: 'PT0S',
    },
  },
});

/** The same configuration after the README's change of `customization_kube_proxy`. */
const changedKubeProxy = {
  iptables: { min_sync_period: 'PT1S', sync_period: 'PT60S' },
  ipvs: {
    min_sync_period: 'PT1S',
    sync_period: 'PT60S',
    scheduler: 'lc',
    tcp_timeout: 'PT900S',
    tcp_fin_timeout: 'PT120S',
    udp_timeout: 'PT300S',
  },
} as const;

/** `CloudProjectKubeCreateOpts` marshalled as the provider does (Go struct order, omitempty). */
function createBody(config: KubeConfig): string {
  const fields = [
    ...(config.name === undefined ? [] : [`"name":${JSON.stringify(config.name)}`]),
    '"privateNetworkConfiguration":{"defaultVrackGateway":"","privateNetworkRoutingAsDefault":false}',
    `"region":${JSON.stringify(config.region)}`,
    ...(config.version === undefined ? [] : [`"version":${JSON.stringify(config.version)}`]),
    ...(config.kube_proxy_mode === undefined
      ? []
      : [`"kubeProxyMode":${JSON.stringify(config.kube_proxy_mode)}`]),
    `"customization":{"apiServer":{"admissionPlugins":{}},"kubeProxy":${kubeProxyJson(config.customization_kube_proxy)}}`,
  ];
  return `{${fields.join(',')}}`;
}

/** helpers.WaitAvailable: GET while 404, once a (logical) second. */
async function waitAvailable(client: GoOvhClient, clock: Clock, path: string): Promise<void> {
  for (;;) {
    try {
      await client.call('GET', path);
      return;
    } catch (error) {
      if (!(error instanceof APIError && error.code === 404)) throw error;
      await clock.sleep(1_000);
    }
  }
}

/** The provider process: its go-ovh client, its logical clock and its resource operations. */
class Provider {
  readonly clock = new Clock(TIME_SCALE);
  readonly client: GoOvhClient;
  readonly #base: (serviceName: string) => string = (serviceName) => `/cloud/project/${serviceName}/kube`;

  constructor(server: TestServer) {
    this.client = new GoOvhClient(server.credentials, { userAgent: USER_AGENT, now: () => this.clock.now() });
  }

  /** `ovh/config.go` loadAndValidate, once per muxed provider server: two go-ovh clients. */
  static async configure(server: TestServer): Promise<{ providers: Provider[]; details: unknown[] }> {
    const providers = [new Provider(server), new Provider(server)];
    const details: unknown[] = [];
    for (const provider of providers) details.push(await provider.client.call('GET', '/auth/details'));
    return { providers, details };
  }

  path(state: { service_name: string; id: string }, suffix = ''): string {
    return `${this.#base(state.service_name)}/${state.id}${suffix}`;
  }

  /** StateChangeConf's Refresh for a cluster: GET, decode, status (any error fails the wait). */
  #refresh(path: string, goneIsDeleted: boolean): () => Promise<Refreshed | undefined> {
    return async () => {
      try {
        const body = await this.client.call<Record<string, unknown>>('GET', path);
        readIntoState(body, { service_name: '' }); // every polled body must decode and not panic
        return { result: body, state: body.status as string };
      } catch (error) {
        if (goneIsDeleted && error instanceof APIError && error.code === 404)
          return { result: {}, state: 'DELETED' };
        throw error;
      }
    };
  }

  async waitReady(path: string, pending: readonly string[], timeoutMs: number): Promise<Poll[]> {
    const { polls } = await waitForState(
      {
        pending,
        target: ['READY'],
        refresh: this.#refresh(path, false),
        delayMs: 5_000,
        minTimeoutMs: 3_000,
        timeoutMs,
      },
      this.clock,
    );
    return polls;
  }

  /** resourceCloudProjectKubeCreate. */
  async create(config: KubeConfig): Promise<{ state: KubeState; polls: Poll[] }> {
    const created = await this.client.call<{ id: string }>(
      'POST',
      this.#base(config.service_name),
      createBody(config),
    );
    const path = `${this.#base(config.service_name)}/${created.id}`;
    await waitAvailable(this.client, this.clock, path);
    const polls = await this.waitReady(path, ['INSTALLING', 'UNKNOWN'], 15 * MINUTE);
    const state = await this.read({ service_name: config.service_name, id: created.id });
    assert.ok(state !== undefined, 'the created cluster is readable');
    return { state, polls };
  }

  /** resourceCloudProjectKubeRead: GET (404 → gone), then the kubeconfig when state has none. */
  async read(
    state: Partial<KubeState> & { service_name: string; id: string },
  ): Promise<KubeState | undefined> {
    let body: unknown;
    try {
      body = await this.client.call('GET', this.path(state));
    } catch (error) {
      if (error instanceof APIError && error.code === 404) return undefined; // CheckDeleted
      throw error;
    }
    const next = readIntoState(body, state);
    if (next.kubeconfig === undefined) {
      const { content } = await this.client.call<{ content: string }>(
        'POST',
        this.path(state, '/kubeconfig'),
      );
      checkKubeconfig(content);
      next.kubeconfig = content;
    }
    return next;
  }

  /** resourceCloudProjectKubeUpdate for a `customization_kube_proxy` change (v2.9-era pending list). */
  async updateKubeProxy(
    state: KubeState,
    block: KubeConfig['customization_kube_proxy'],
    pending: readonly string[] = ['REDEPLOYING', 'RESETTING'],
  ): Promise<{ response: unknown; polls: Poll[] }> {
    const response = await this.client.call(
      'PUT',
      this.path(state, '/customization'),
      `{"kubeProxy":${kubeProxyJson(block)}}`,
    );
    const polls = await this.waitReady(this.path(state), pending, 60 * MINUTE);
    return { response, polls };
  }

  /** resourceCloudProjectKubeDelete: DELETE (404 is fine), then wait DELETING → DELETED/404. */
  async delete(state: KubeState): Promise<{ response: unknown; polls: Poll[] }> {
    let response: unknown;
    try {
      response = await this.client.call('DELETE', this.path(state));
    } catch (error) {
      if (!(error instanceof APIError && error.code === 404)) throw error;
    }
    const { polls } = await waitForState(
      {
        pending: ['DELETING'],
        target: ['DELETED'],
        refresh: this.#refresh(this.path(state), true),
        delayMs: 5_000,
        minTimeoutMs: 3_000,
        timeoutMs: 10 * MINUTE,
      },
      this.clock,
    );
    return { response, polls };
  }

  /** resourceCloudProjectKubeImportState then Read: `service_name/kube_id`. */
  async import(id: string): Promise<KubeState | undefined> {
    const parts = id.split('/');
    if (parts.length !== 2) throw new Error('import Id is not service_name/kubeid formatted');
    const [serviceName, kubeId] = parts as [string, string];
    const { content } = await this.client.call<{ content: string }>(
      'POST',
      `${this.#base(serviceName)}/${kubeId}/kubeconfig`,
    );
    checkKubeconfig(content);
    return this.read({ service_name: serviceName, id: kubeId, kubeconfig: content });
  }
}

/** The provider's kubeconfig parse: at least one cluster and one user, else "kubeconfig is invalid". */
function checkKubeconfig(content: string): void {
  const parsed = parseYaml(content) as {
    clusters?: { cluster?: Record<string, string> }[];
    users?: { user?: Record<string, string> }[];
  };
  assert.ok((parsed.clusters?.length ?? 0) > 0 && (parsed.users?.length ?? 0) > 0, 'kubeconfig is invalid');
  const cluster = parsed.clusters![0]!.cluster!;
  assert.match(cluster.server ?? '', /^https:\/\//, 'kubeconfig_attributes.host');
  assert.ok(
    Buffer.from(cluster['certificate-authority-data'] ?? '', 'base64')
      .toString()
      .includes('BEGIN CERTIFICATE'),
  );
}

/** Every poll time was one of StateChangeConf's. */
function assertSchedule(polls: readonly Poll[], t: TestContext) {
  t.diagnostic(`polls: ${polls.map((poll) => `${poll.at / 1000}s ${poll.state}`).join(', ')}`);
  assert.deepEqual(
    polls.map((poll) => poll.at),
    pollSchedule(polls.length),
    `polls at ${polls.map((poll) => `${poll.at / 1000}s:${poll.state}`).join(', ')}`,
  );
}

describe('the StateChangeConf replica', () => {
  test('a status in neither the pending nor the target list fails the wait at once', async () => {
    const clock = new Clock(0);
    const states = ['REDEPLOYING', 'UPDATING', 'READY'];
    await assert.rejects(
      waitForState(
        {
          pending: ['REDEPLOYING', 'RESETTING'],
          target: ['READY'],
          refresh: async () => ({ result: {}, state: states.shift()! }),
          delayMs: 5_000,
          minTimeoutMs: 3_000,
          timeoutMs: MINUTE,
        },
        clock,
      ),
      (error: Error & { polls: Poll[] }) => {
        assert.equal(error.message.split('.')[0], "unexpected state 'UPDATING', wanted target 'READY'");
        assert.deepEqual(
          error.polls.map((poll) => [poll.at, poll.state]),
          [
            [5_000, 'REDEPLOYING'],
            [8_000, 'UPDATING'],
          ],
        );
        return true;
      },
    );
  });

  test('polls come 5 s after the action, then after 3, 6 and 10 s', async () => {
    const clock = new Clock(0);
    let count = 0;
    const { polls } = await waitForState(
      {
        pending: ['INSTALLING'],
        target: ['READY'],
        refresh: async () => ({ result: {}, state: ++count < 5 ? 'INSTALLING' : 'READY' }),
        delayMs: 5_000,
        minTimeoutMs: 3_000,
        timeoutMs: MINUTE,
      },
      clock,
    );
    assert.deepEqual(
      polls.map((poll) => poll.at),
      pollSchedule(5),
    );
  });
});

for (const dialect of DIALECTS) {
  describe(`the Terraform provider's ovh_cloud_project_kube against mks (${dialect})`, () => {
    let server: TestServer;
    let providers: Provider[];
    let config: KubeConfig;
    let state: KubeState | undefined;

    before(async () => {
      server = await startTestServer(dialect, ENV);
      config = exampleConfig(server.projectId);
    });
    after(() => server.close());

    test('configure: /auth/time unsigned then /auth/details signed, once per muxed server', async () => {
      const configured = await Provider.configure(server);
      providers = configured.providers;
      const calls = providers.flatMap((provider) => provider.client.calls);
      assert.deepEqual(
        calls.map((call) => [call.method, call.path, call.status, 'X-Ovh-Signature' in call.headers]),
        [
          ['GET', '/auth/time', 200, false],
          ['GET', '/auth/details', 200, true],
          ['GET', '/auth/time', 200, false],
          ['GET', '/auth/details', 200, true],
        ],
      );
      assert.match(calls[0]!.responseText, /^\d+$/, '/auth/time is a bare integer');
      for (const details of configured.details) {
        const { account, method, identities } = details as Record<string, unknown>;
        assert.equal(typeof account, 'string');
        assert.equal(method, 'account');
        assert.ok(Array.isArray(identities));
      }
      // The signature covered the configured endpoint, scheme and port included.
      assert.match(server.credentials.endpoint, /^http:\/\/127\.0\.0\.1:\d+\/1\.0$/);
    });

    test('apply (create): the exact create body, WaitAvailable, INSTALLING → READY, read and kubeconfig', async (t) => {
      const provider = providers[0]!;
      const before = provider.client.calls.length;
      const created = await provider.create(config);
      state = created.state;
      const calls = provider.client.calls.slice(before);

      const post = calls[0]!;
      assert.equal(post.method, 'POST');
      assert.equal(
        post.body,
        '{"name":"my_kube_cluster","privateNetworkConfiguration":{"defaultVrackGateway":"","privateNetworkRoutingAsDefault":false},"region":"GRA5","kubeProxyMode":"ipvs","customization":{"apiServer":{"admissionPlugins":{}},"kubeProxy":{"iptables":{"minSyncPeriod":"PT0S","syncPeriod":"PT0S"},"ipvs":{"minSyncPeriod":"PT0S","syncPeriod":"PT0S","scheduler":"rr","tcpTimeout":"PT0S","tcpFinTimeout":"PT0S","udpTimeout":"PT0S"}}}}',
      );
      assert.equal(post.headers['Content-Type'], 'application/json;charset=utf-8');
      assert.equal(post.status, 200);
      const createdBody = JSON.parse(post.responseText) as Record<string, unknown>;
      assert.equal(createdBody.status, 'INSTALLING');

      // POST, GET (WaitAvailable, at once), GETs of the wait, GET (read), POST /kubeconfig.
      assert.deepEqual(
        calls.map(
          (call) =>
            `${call.method} ${call.path.replace(state!.id, '{id}').replace(server.projectId, '{sn}')}`,
        ),
        [
          'POST /cloud/project/{sn}/kube',
          ...Array(calls.length - 2).fill('GET /cloud/project/{sn}/kube/{id}'),
          'POST /cloud/project/{sn}/kube/{id}/kubeconfig',
        ],
      );
      assert.equal(calls[1]!.at, calls[0]!.at, 'WaitAvailable polls at once');
      const kubeconfigCall = calls.at(-1)!;
      assert.equal(kubeconfigCall.body, undefined);
      assert.equal('Content-Type' in kubeconfigCall.headers, false);
      assert.equal(kubeconfigCall.status, 200);

      assertSchedule(created.polls, t);
      assert.ok(
        created.polls.every((poll) => poll.state === 'INSTALLING' || poll.state === 'READY'),
        JSON.stringify(created.polls),
      );
      assert.equal(created.polls.at(-1)!.state, 'READY');

      assert.equal(state.status, 'READY');
      assert.equal(state.kube_proxy_mode, 'ipvs', 'the requested kubeProxyMode is returned (issue #1425)');
      assert.equal(state.version, NEWEST_MINOR, 'no version asked: the newest, truncated to MAJOR.MINOR');
      assert.deepEqual(planDiff(config, state), [], 'plan after apply shows no changes');
    });

    test('every cluster body keeps the crash conditions: version MAJOR.MINOR.PATCH, apiServer with admissionPlugins', async () => {
      const provider = providers[0]!;
      const body = await provider.client.call<Record<string, unknown>>('GET', provider.path(state!));
      assert.match(body.version as string, /^\d+\.\d+\.\d+$/);
      assert.ok((body.version as string).startsWith(`${NEWEST_MINOR}.`));
      const customization = body.customization as Record<string, Record<string, unknown>>;
      assert.equal(typeof customization.apiServer!.admissionPlugins, 'object');
      assert.notEqual(customization.apiServer!.admissionPlugins, null);
      // Durations string-identical (PT0S is not rewritten as P0D, 0s or anything else).
      assert.deepEqual(customization.kubeProxy, {
        iptables: { minSyncPeriod: 'PT0S', syncPeriod: 'PT0S' },
        ipvs: {
          minSyncPeriod: 'PT0S',
          syncPeriod: 'PT0S',
          scheduler: 'rr',
          tcpTimeout: 'PT0S',
          tcpFinTimeout: 'PT0S',
          udpTimeout: 'PT0S',
        },
      });
    });

    test('apply (update): PUT /customization with the whole new block, REDEPLOYING → READY, then no changes', async (t) => {
      const provider = providers[1]!; // a later `terraform apply` is another plugin process
      const refreshed = await provider.read(state!);
      assert.ok(refreshed !== undefined);
      assert.deepEqual(planDiff(config, refreshed), []);

      config = { ...config, customization_kube_proxy: changedKubeProxy };
      assert.deepEqual(planDiff(config, refreshed), [
        `customization_kube_proxy: ${JSON.stringify({ iptables: { min_sync_period: 'PT0S', sync_period: 'PT0S' }, ipvs: { min_sync_period: 'PT0S', sync_period: 'PT0S', scheduler: 'rr', tcp_timeout: 'PT0S', tcp_fin_timeout: 'PT0S', udp_timeout: 'PT0S' } })} -> ${JSON.stringify(changedKubeProxy)}`,
      ]);

      const before = provider.client.calls.length;
      // The v2.9-era pending list (no UPDATING): an UPDATING status would fail this wait at once.
      const { response, polls } = await provider.updateKubeProxy(refreshed, changedKubeProxy);
      const put = provider.client.calls[before]!;
      assert.equal(
        put.body,
        '{"kubeProxy":{"iptables":{"minSyncPeriod":"PT1S","syncPeriod":"PT60S"},"ipvs":{"minSyncPeriod":"PT1S","syncPeriod":"PT60S","scheduler":"lc","tcpTimeout":"PT900S","tcpFinTimeout":"PT120S","udpTimeout":"PT300S"}}}',
      );
      assert.equal(put.status, 200);
      assert.equal(typeof (response as { message: string }).message, 'string');
      assertSchedule(polls, t);
      assert.equal(polls[0]!.state, 'REDEPLOYING', 'the rollout is still running at the first poll');
      assert.equal(polls.at(-1)!.state, 'READY');
      assert.ok(polls.every((poll) => poll.state === 'REDEPLOYING' || poll.state === 'READY'));

      // The update does not re-read; the next plan refreshes and must show no changes.
      const next = await providers[0]!.read({ ...refreshed });
      assert.ok(next !== undefined);
      state = next;
      assert.deepEqual(planDiff(config, next), [], 'second plan shows no changes');
      const customization = await provider.client.call('GET', provider.path(next, '/customization'));
      assert.deepEqual(customization, {
        apiServer: { admissionPlugins: { disabled: [], enabled: ['AlwaysPullImages', 'NodeRestriction'] } },
        kubeProxy: {
          iptables: { minSyncPeriod: 'PT1S', syncPeriod: 'PT60S' },
          ipvs: {
            minSyncPeriod: 'PT1S',
            syncPeriod: 'PT60S',
            scheduler: 'lc',
            tcpTimeout: 'PT900S',
            tcpFinTimeout: 'PT120S',
            udpTimeout: 'PT300S',
          },
        },
      });
    });

    test('apply (rename): PUT /kube/{id} answers 200 with a JSON null, no wait', async () => {
      const provider = providers[0]!;
      const result = await provider.client.call('PUT', provider.path(state!), '{"name":"renamed"}');
      const call = provider.client.calls.at(-1)!;
      assert.equal(call.status, 200);
      assert.equal(call.responseText, 'null');
      assert.equal(result, null);
      const reread = await provider.read(state!);
      assert.equal(reread?.name, 'renamed');
      config = { ...config, name: 'renamed' };
      state = reread;
    });

    test('import: POST /kubeconfig, then read; the plan shows no changes', async () => {
      const provider = providers[1]!;
      const before = provider.client.calls.length;
      await assert.rejects(provider.import(state!.id), /import Id is not service_name\/kubeid formatted/);
      const imported = await provider.import(`${server.projectId}/${state!.id}`);
      const calls = provider.client.calls.slice(before);
      assert.deepEqual(
        calls.map((call) => [call.method, call.path.endsWith('/kubeconfig') ? 'kubeconfig' : 'cluster']),
        [
          ['POST', 'kubeconfig'],
          ['GET', 'cluster'],
        ],
      );
      assert.ok(imported !== undefined);
      assert.deepEqual(planDiff(config, imported), []);
    });

    test('destroy: DELETE answers 200 null, DELETING then 404 counts as DELETED, refresh drops the resource', async (t) => {
      const provider = providers[0]!;
      const { response, polls } = await provider.delete(state!);
      assert.equal(response, null);
      const deleteCall = provider.client.calls.find((call) => call.method === 'DELETE')!;
      assert.equal(deleteCall.status, 200);
      assert.equal(deleteCall.responseText, 'null');
      assertSchedule(polls, t);
      assert.equal(polls.at(-1)!.state, 'DELETED');
      assert.ok(polls.every((poll) => poll.state === 'DELETING' || poll.state === 'DELETED'));
      assert.equal(await provider.read(state!), undefined, 'a 404 on refresh removes it from state');
      // A second destroy (e.g. after a crash) treats the 404 as already gone.
      await provider.delete(state!);
    });

    test('the minimal create body is accepted and its empty objects are not stored as values', async () => {
      const provider = providers[0]!;
      const created = await provider.client.call<Record<string, unknown>>(
        'POST',
        `/cloud/project/${server.projectId}/kube`,
        MINIMAL_CREATE_BODY,
      );
      assert.equal(created.name, 'probe');
      assert.equal(created.privateNetworkConfiguration, null);
      assert.equal(created.privateNetworkId, null);
      assert.equal(created.kubeProxyMode, 'iptables');
      assert.deepEqual(created.customization, {
        apiServer: { admissionPlugins: { disabled: [], enabled: ['AlwaysPullImages', 'NodeRestriction'] } },
        kubeProxy: {},
      });
      const probeConfig: KubeConfig = { service_name: server.projectId, region: 'GRA11', name: 'probe' };
      const probeState = readIntoState(created, { service_name: server.projectId });
      assert.equal(probeState.customization_kube_proxy, undefined, 'customization_kube_proxy stays unset');
      assert.deepEqual(planDiff(probeConfig, probeState), []);
      await provider.client.call('DELETE', `/cloud/project/${server.projectId}/kube/${created.id as string}`);
    });

    test('a cluster created without a name comes back with name "" and no perpetual diff', async () => {
      const provider = providers[0]!;
      const unnamed: KubeConfig = { service_name: server.projectId, region: 'GRA11' };
      const body = createBody(unnamed);
      assert.equal(body.includes('"name"'), false);
      const created = await provider.client.call<Record<string, unknown>>(
        'POST',
        `/cloud/project/${server.projectId}/kube`,
        body,
      );
      assert.equal(created.name, '');
      const unnamedState = readIntoState(created, { service_name: server.projectId });
      assert.deepEqual(planDiff(unnamed, unnamedState), []);
      await provider.client.call('DELETE', `/cloud/project/${server.projectId}/kube/${created.id as string}`);
    });

    test("errors reach Terraform as go-ovh renders them, with mks's message and the query id", async () => {
      const provider = providers[0]!;
      const error = await provider.client
        .call('POST', `/cloud/project/${server.projectId}/kube`, '{"region":"NOWHERE"}')
        .then(
          () => assert.fail('accepted'),
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof APIError);
      assert.equal(error.code, 400);
      assert.equal(error.class, 'Client::BadRequest');
      assert.match(error.apiMessage, /^region: 'NOWHERE' is not offered/);
      assert.match(error.queryId, /^EU\.ext-mks\./);
      assert.match(
        error.message,
        /^OVHcloud API error \(status code 400\): Client::BadRequest: "region: 'NOWHERE' is not offered; .*" \(X-OVH-Query-Id: EU\.ext-mks\..+\)$/,
      );
      const missing = await provider.client
        .call('GET', `/cloud/project/${server.projectId}/kube/00000000-0000-0000-0000-000000000000`)
        .catch((caught: unknown) => caught);
      assert.ok(missing instanceof APIError && missing.code === 404, 'a 404 is what CheckDeleted looks for');
    });

    test('a bare apiServer object or a short version would crash the provider (the replica catches both)', () => {
      const base = { id: 'x', name: '', region: 'GRA11', version: '1.31.14', status: 'READY' };
      assert.throws(
        () => readIntoState({ ...base, customization: { apiServer: {} } }, { service_name: 'p' }),
        ProviderPanic,
      );
      assert.throws(() => readIntoState({ ...base, version: '1' }, { service_name: 'p' }), ProviderPanic);
      assert.throws(
        () => readIntoState({ ...base, isUpToDate: 'yes' }, { service_name: 'p' }),
        /cannot unmarshal/,
      );
      assert.equal(readIntoState(base, { service_name: 'p' }).version, '1.31');
    });
  });
}

/** `waitForCloudProjectKubeNodePoolWithStateTarget`'s pending list. */
const NODE_POOL_PENDING = ['INSTALLING', 'UPDATING', 'REDEPLOYING', 'RESIZING', 'DOWNSCALING', 'UPSCALING'];

/** The provider's node pool, IP restrictions and version operations, over the same go-ovh client. */
class PoolProvider {
  readonly provider: Provider;
  constructor(provider: Provider) {
    this.provider = provider;
  }

  get client(): GoOvhClient {
    return this.provider.client;
  }

  poolPath(config: { service_name: string; kube_id: string }, id = ''): string {
    return `/cloud/project/${config.service_name}/kube/${config.kube_id}/nodepool${id === '' ? '' : `/${id}`}`;
  }

  async #waitPool(path: string, pending: readonly string[], target: readonly string[], gone: boolean) {
    const { polls } = await waitForState(
      {
        pending,
        target,
        refresh: async () => {
          try {
            const body = await this.client.call<Record<string, unknown>>('GET', path);
            readNodePool(body); // every polled body must decode and not panic
            return { result: body, state: body.status as string };
          } catch (error) {
            if (gone && error instanceof APIError && error.code === 404)
              return { result: {}, state: 'DELETED' };
            throw error;
          }
        },
        delayMs: 5_000,
        minTimeoutMs: 3_000,
        timeoutMs: 60 * MINUTE,
      },
      this.provider.clock,
    );
    return polls;
  }

  /** resourceCloudProjectKubeNodePoolCreate: POST, WaitAvailable, wait READY or ERROR, read. */
  async create(config: NodePoolConfig): Promise<{ state: NodePoolState; polls: Poll[]; created: unknown }> {
    const created = await this.client.call<{ id: string }>(
      'POST',
      this.poolPath(config),
      nodePoolCreateBody(config),
    );
    const path = this.poolPath(config, created.id);
    await waitAvailable(this.client, this.provider.clock, path);
    const polls = await this.#waitPool(path, NODE_POOL_PENDING, ['READY', 'ERROR'], false);
    const state = await this.read(config, created.id);
    assert.ok(state !== undefined);
    return { state, polls, created };
  }

  /** resourceCloudProjectKubeNodePoolRead: GET (404 → gone), ToMap. */
  async read(config: NodePoolConfig, id: string): Promise<NodePoolState | undefined> {
    try {
      return readNodePool(await this.client.call('GET', this.poolPath(config, id)));
    } catch (error) {
      if (error instanceof APIError && error.code === 404) return undefined;
      throw error;
    }
  }

  /** resourceCloudProjectKubeNodePoolUpdate: PUT (no body read), wait READY, read. */
  async update(config: NodePoolConfig, id: string): Promise<{ state: NodePoolState; polls: Poll[] }> {
    await this.client.call('PUT', this.poolPath(config, id), nodePoolUpdateBody(config));
    const polls = await this.#waitPool(this.poolPath(config, id), NODE_POOL_PENDING, ['READY'], false);
    const state = await this.read(config, id);
    assert.ok(state !== undefined);
    return { state, polls };
  }

  /** resourceCloudProjectKubeNodePoolDelete: DELETE, wait DELETING → DELETED (404). */
  async delete(config: NodePoolConfig, id: string): Promise<Poll[]> {
    await this.client.call('DELETE', this.poolPath(config, id));
    return this.#waitPool(this.poolPath(config, id), ['DELETING'], ['DELETED'], true);
  }

  /** resourceCloudProjectKubeNodePoolImportState: `service_name/kube_id/pool_id`, then read. */
  async import(id: string, config: NodePoolConfig): Promise<NodePoolState | undefined> {
    const parts = id.split('/');
    if (parts.length !== 3) throw new Error('import Id is not service_name/kubeid/poolid formatted');
    const [serviceName, kubeId, poolId] = parts as [string, string, string];
    return this.read({ ...config, service_name: serviceName, kube_id: kubeId }, poolId);
  }

  /** resourceCloudProjectKubeIpRestrictionsCreateOrUpdate (and Delete with []): PUT, wait, read. */
  async putIpRestrictions(serviceName: string, kubeId: string, ips: readonly string[]): Promise<string[]> {
    const path = `/cloud/project/${serviceName}/kube/${kubeId}`;
    await this.client.call('PUT', `${path}/ipRestrictions`, JSON.stringify({ ips }));
    await this.provider.waitReady(path, ['REDEPLOYING', 'RESETTING'], 60 * MINUTE);
    return this.client.call<string[]>('GET', `${path}/ipRestrictions`);
  }

  /**
   * ovh_cloud_project_kube_oidc: POST (create) or PUT (update) the whole CloudProjectKubeOIDC*Opts,
   * or DELETE; then waitForCloudProjectKubeReadyWithDelay (20 s delay) → READY; create reads back.
   */
  async oidc(state: KubeState, method: 'POST' | 'PUT' | 'DELETE', body?: string): Promise<Poll[]> {
    await this.client.call(method, this.provider.path(state, '/openIdConnect'), body);
    const pending =
      method === 'DELETE' ? ['REDEPLOYING', 'UPDATING'] : ['INSTALLING', 'UPDATING', 'REDEPLOYING'];
    const path = this.provider.path(state);
    const { polls } = await waitForState(
      {
        pending,
        target: ['READY'],
        refresh: async () => {
          const body = await this.client.call<{ status: string }>('GET', path);
          return { result: body, state: body.status };
        },
        delayMs: 20_000,
        minTimeoutMs: 3_000,
        timeoutMs: 10 * MINUTE,
      },
      this.provider.clock,
    );
    return polls;
  }

  /** resourceCloudProjectKubeUpdate for `version`: POST /update NEXT_MINOR, wait (HEAD pending list). */
  async upgrade(state: KubeState): Promise<Poll[]> {
    await this.client.call('POST', this.provider.path(state, '/update'), '{"strategy":"NEXT_MINOR"}');
    return this.provider.waitReady(
      this.provider.path(state),
      ['UPDATING', 'REDEPLOYING', 'RESETTING'],
      60 * MINUTE,
    );
  }
}

for (const dialect of DIALECTS) {
  describe(`the Terraform provider's node pools, IP restrictions, OIDC and version upgrades against mks (${dialect})`, () => {
    let server: TestServer;
    let pools: PoolProvider;
    let cluster: KubeState;
    let clusterConfig: KubeConfig;
    let poolConfig: NodePoolConfig;
    let pool: NodePoolState | undefined;

    before(async () => {
      server = await startTestServer(dialect, ENV);
      const { providers } = await Provider.configure(server);
      pools = new PoolProvider(providers[0]!);
      clusterConfig = { service_name: server.projectId, region: 'GRA7', name: 'pools', version: '1.33' };
      cluster = (await pools.provider.create(clusterConfig)).state;
      poolConfig = {
        service_name: server.projectId,
        kube_id: cluster.id,
        flavor_name: 'b3-16',
        name: 'workers',
        desired_nodes: 1,
        min_nodes: 0,
        max_nodes: 5,
      };
    });
    after(() => server.close());

    test('nodepool create: the exact body, WaitAvailable, INSTALLING → READY, re-plans clean', async () => {
      const before = pools.client.calls.length;
      const created = await pools.create(poolConfig);
      const post = pools.client.calls[before]!;
      assert.equal(
        post.body,
        '{"desiredNodes":1,"flavorName":"b3-16","maxNodes":5,"minNodes":0,"name":"workers"}',
      );
      assert.equal(post.status, 200);
      assert.equal((created.created as { status: string }).status, 'INSTALLING');
      assert.equal(pools.client.calls[before + 1]!.at, post.at, 'WaitAvailable polls at once');
      assert.equal(created.polls.at(-1)!.state, 'READY');
      assert.ok(created.polls.every((poll) => ['INSTALLING', 'READY'].includes(poll.state ?? '')));
      pool = created.state;
      assert.equal(pool.current_nodes, 1);
      assert.deepEqual(nodePoolPlanDiff(poolConfig, pool), []);
    });

    test('nodepool scale and template change: PUT, UPSCALING/REDEPLOYING → READY, re-plans clean', async () => {
      poolConfig = { ...poolConfig, desired_nodes: 3 };
      assert.deepEqual(nodePoolPlanDiff(poolConfig, pool!), ['desired_nodes: 1 -> 3']);
      const scaled = await pools.update(poolConfig, pool!.id);
      assert.equal(
        pools.client.calls.find((call) => call.method === 'PUT')!.body,
        '{"desiredNodes":3,"maxNodes":5,"minNodes":0}',
      );
      assert.ok(
        scaled.polls.every((poll) => ['UPSCALING', 'READY'].includes(poll.state ?? '')),
        JSON.stringify(scaled.polls),
      );
      assert.equal(scaled.state.current_nodes, 3);
      assert.equal(scaled.state.available_nodes, 3);
      assert.deepEqual(nodePoolPlanDiff(poolConfig, scaled.state), []);

      poolConfig = {
        ...poolConfig,
        template: {
          metadata: {
            annotations: { 'example.com/team': 'a' },
            finalizers: [],
            labels: { role: 'batch', tier: 'back' },
          },
          spec: {
            taints: [{ effect: 'NoSchedule', key: 'dedicated', value: 'batch' }],
            unschedulable: false,
          },
        },
      };
      assert.equal(nodePoolPlanDiff(poolConfig, scaled.state).length, 1);
      const templated = await pools.update(poolConfig, pool!.id);
      assert.equal(
        pools.client.calls.filter((call) => call.method === 'PUT').at(-1)!.body,
        '{"desiredNodes":3,"maxNodes":5,"minNodes":0,"template":{"metadata":{"annotations":{"example.com/team":"a"},"finalizers":[],"labels":{"role":"batch","tier":"back"}},"spec":{"taints":[{"effect":"NoSchedule","key":"dedicated","value":"batch"}],"unschedulable":false}}}',
      );
      assert.equal(templated.polls.at(-1)!.state, 'READY');
      pool = templated.state;
      assert.deepEqual(nodePoolPlanDiff(poolConfig, pool), [], 'second plan shows no changes');
    });

    test('nodepool import: service_name/kube_id/pool_id, then read; the plan shows no changes', async () => {
      await assert.rejects(pools.import(`${server.projectId}/${cluster.id}`, poolConfig), /poolid formatted/);
      const imported = await pools.import(`${server.projectId}/${cluster.id}/${pool!.id}`, poolConfig);
      assert.ok(imported !== undefined);
      assert.deepEqual(nodePoolPlanDiff(poolConfig, imported), []);
    });

    test('ovh_cloud_project_kube_iprestrictions: PUT the set, wait READY, read it back; destroy PUTs []', async () => {
      const ips = ['10.42.0.0/16', '198.51.100.7'];
      const read = await pools.putIpRestrictions(server.projectId, cluster.id, ips);
      assert.deepEqual(read, ips, 'the set as given: no perpetual diff');
      const put = pools.client.calls
        .filter((call) => call.path.endsWith('/ipRestrictions') && call.method === 'PUT')
        .at(-1)!;
      assert.equal(put.status, 200);
      assert.equal(put.responseText, 'null');
      assert.deepEqual(await pools.putIpRestrictions(server.projectId, cluster.id, []), []);
    });

    test('ovh_cloud_project_kube_oidc: create, read back as set, update, destroy', async () => {
      // CloudProjectKubeOIDCCreateOpts: every field, no omitempty (unset lists are null).
      const body = (clientId: string) =>
        `{"clientId":${JSON.stringify(clientId)},"issuerUrl":"https://issuer.example.com","usernameClaim":"email","usernamePrefix":"","groupsClaim":null,"groupsPrefix":"","requiredClaim":null,"signingAlgorithms":null,"caContent":""}`;
      const created = await pools.oidc(cluster, 'POST', body('mks'));
      assert.equal(created.at(-1)!.state, 'READY');
      const read = await pools.client.call<Record<string, unknown>>(
        'GET',
        pools.provider.path(cluster, '/openIdConnect'),
      );
      // ToMap: every attribute the configuration sets comes back as set (no perpetual diff).
      assert.deepEqual(
        [
          read.clientId,
          read.issuerUrl,
          read.usernameClaim,
          read.usernamePrefix,
          read.groupsPrefix,
          read.caContent,
        ],
        ['mks', 'https://issuer.example.com', 'email', '', '', ''],
      );
      assert.deepEqual([read.groupsClaim, read.requiredClaim, read.signingAlgorithms], [[], [], []]);
      const updated = await pools.oidc(cluster, 'PUT', body('mks2'));
      assert.equal(updated.at(-1)!.state, 'READY');
      assert.equal(
        (await pools.client.call<{ clientId: string }>('GET', pools.provider.path(cluster, '/openIdConnect')))
          .clientId,
        'mks2',
      );
      const deleted = await pools.oidc(cluster, 'DELETE');
      assert.equal(deleted.at(-1)!.state, 'READY');
      const gone = await pools.client
        .call('GET', pools.provider.path(cluster, '/openIdConnect'))
        .catch((error: unknown) => error);
      assert.ok(gone instanceof APIError && gone.code === 404);
    });

    test('version upgrade: POST /update NEXT_MINOR, UPDATING → READY, re-plans clean', async () => {
      const refreshed = await pools.provider.read(cluster);
      assert.ok(refreshed !== undefined);
      assert.deepEqual(planDiff(clusterConfig, refreshed), []);
      clusterConfig = { ...clusterConfig, version: '1.34' };
      assert.deepEqual(planDiff(clusterConfig, refreshed), ['version: 1.33 -> 1.34']);
      const polls = await pools.upgrade(refreshed);
      assert.equal(
        pools.client.calls.filter((call) => call.path.endsWith('/update')).at(-1)!.body,
        '{"strategy":"NEXT_MINOR"}',
      );
      assert.equal(polls[0]!.state, 'UPDATING', 'the nodes are still being replaced at the first poll');
      assert.equal(polls.at(-1)!.state, 'READY');
      const next = await pools.provider.read(refreshed);
      assert.ok(next !== undefined);
      assert.deepEqual(planDiff(clusterConfig, next), [], 'second plan shows no changes');
      cluster = next;
      // The pool's nodes were replaced too: all available, up to date.
      const after = await pools.read(poolConfig, pool!.id);
      assert.equal(after?.available_nodes, 3);
      assert.deepEqual(nodePoolPlanDiff(poolConfig, after!), []);
    });

    test('nodepool destroy: DELETE, DELETING then 404 counts as DELETED, refresh drops it', async () => {
      const polls = await pools.delete(poolConfig, pool!.id);
      assert.equal(polls.at(-1)!.state, 'DELETED');
      assert.ok(
        polls.every((poll) => ['DELETING', 'DELETED'].includes(poll.state ?? '')),
        JSON.stringify(polls),
      );
      assert.equal(await pools.read(poolConfig, pool!.id), undefined);
    });

    test('a pool body without its template (or its spec) would crash the provider (the replica catches it)', () => {
      const body = { id: 'p', name: 'n', flavor: 'b3-8', status: 'READY', desiredNodes: 1 };
      assert.throws(() => readNodePool(body), ProviderPanic);
      assert.throws(() => readNodePool({ ...body, template: { metadata: { labels: {} } } }), ProviderPanic);
    });
  });
}
