/**
 * The official npm clients — `@ovhcloud/node-ovh` 3.x and `ovh` 2.x, unchanged — against an mks
 * serving HTTPS, configured only with `host`, `port` and the credentials mks wrote. They sign
 * `https://<host><path>` without the port and never sign paths containing `/auth`
 * (spec/ovh-api.md §4). Every kube call of DESIGN §3 goes through their own signing; errors must
 * carry mks's messages; the consumer-key request flow works as OVH documents it.
 *
 * In this process the clients trust mks's CA through `https.globalAgent` (they use it for every
 * request); `NODE_EXTRA_CA_CERTS`, which is what `mks serve --tls` tells people to set, is read
 * only at process start, so the last tests run `mks serve --tls` and a client in child processes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { sha256 } from '../../src/auth/auth.store.ts';
import { readOvhConf } from '../../src/client/ovh-conf.ts';
import { loadOrCreateLocalTls } from '../../src/tls/local-ca.ts';
import { DIALECTS } from '../support/dialects.ts';
import { MksProcess, ROOT } from '../support/mks-process.ts';
import { freePort } from '../support/postgres-server.ts';
import { cleanEnv, runProcess } from '../support/process.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

/** The part of both packages' API this suite uses (they ship no types). */
interface OvhClient {
  requestPromised(method: string, path: string, params?: Record<string, unknown>): Promise<unknown>;
}
type OvhFactory = (params: Record<string, unknown>) => OvhClient;

const require = createRequire(import.meta.url);
const CLIENTS: readonly { name: string; create: OvhFactory }[] = [
  { name: '@ovhcloud/node-ovh', create: require('@ovhcloud/node-ovh') as OvhFactory },
  { name: 'ovh', create: require('ovh') as OvhFactory },
];

/** What both clients reject with: `{error: <HTTP status>, message: <body.message>}`. */
async function rejection(promise: Promise<unknown>): Promise<{ error: number; message: string }> {
  try {
    await promise;
  } catch (caught) {
    return caught as { error: number; message: string };
  }
  assert.fail('the call succeeded');
}

interface Cluster {
  id: string;
  name: string;
  status: string;
  version: string;
  kubeProxyMode: string;
  customization: { kubeProxy: unknown; apiServer: { admissionPlugins: unknown } };
}

for (const dialect of DIALECTS) {
  describe(`the npm OVH clients against mks over HTTPS (${dialect})`, () => {
    let server: TestServer;
    let port: number;
    let previousCa: unknown;

    before(async () => {
      server = await startTestServer(dialect, { MKS_TLS: 'true' });
      port = server.config.listen.port;
      assert.equal(server.config.publicUrl, `https://127.0.0.1:${port}/1.0`);
      previousCa = https.globalAgent.options.ca;
      https.globalAgent.options.ca = fs.readFileSync(server.runtime.apiCaFile!);
    });
    after(async () => {
      https.globalAgent.options.ca = previousCa as string | undefined;
      await server.close();
    });

    const clientFor = (create: OvhFactory, consumerKey?: string) =>
      create({
        host: '127.0.0.1',
        port,
        appKey: server.credentials.applicationKey,
        appSecret: server.credentials.applicationSecret,
        ...(consumerKey === undefined ? {} : { consumerKey }),
      });

    for (const { name, create } of CLIENTS) {
      describe(name, () => {
        let ovh: OvhClient;
        let base: string;

        before(() => {
          ovh = clientFor(create, server.credentials.consumerKey);
          base = `/cloud/project/${server.projectId}/kube`;
        });

        test('creates, reads, lists, renames, customizes, resets, fetches a kubeconfig and deletes a cluster', async () => {
          const created = (await ovh.requestPromised('POST', base, {
            region: 'GRA11',
            name: `by-${name}`,
            kubeProxyMode: 'ipvs',
            customization: { kubeProxy: { ipvs: { scheduler: 'rr', tcpTimeout: 'PT900S' } } },
          })) as Cluster;
          assert.equal(created.status, 'INSTALLING');
          assert.equal(created.kubeProxyMode, 'ipvs');
          assert.match(created.version, /^\d+\.\d+\.\d+$/);

          const read = (await ovh.requestPromised('GET', `${base}/${created.id}`)) as Cluster;
          assert.equal(read.name, `by-${name}`);
          assert.deepEqual(read.customization.kubeProxy, { ipvs: { scheduler: 'rr', tcpTimeout: 'PT900S' } });
          const ids = (await ovh.requestPromised('GET', base)) as string[];
          assert.ok(ids.includes(created.id));

          assert.equal(await ovh.requestPromised('PUT', `${base}/${created.id}`, { name: 'renamed' }), null);
          assert.equal(
            ((await ovh.requestPromised('GET', `${base}/${created.id}`)) as Cluster).name,
            'renamed',
          );

          const put = (await ovh.requestPromised('PUT', `${base}/${created.id}/customization`, {
            kubeProxy: { iptables: { minSyncPeriod: 'PT1S', syncPeriod: 'PT60S' } },
          })) as { message: string };
          assert.equal(typeof put.message, 'string');
          const customization = await ovh.requestPromised('GET', `${base}/${created.id}/customization`);
          assert.deepEqual(customization, {
            apiServer: {
              admissionPlugins: { disabled: [], enabled: ['AlwaysPullImages', 'NodeRestriction'] },
            },
            kubeProxy: { iptables: { minSyncPeriod: 'PT1S', syncPeriod: 'PT60S' } },
          });

          await waitFor(
            async () =>
              ((await ovh.requestPromised('GET', `${base}/${created.id}`)) as Cluster).status === 'READY',
            { what: 'READY after the customization' },
          );
          // No params: the clients send no body at all.
          assert.equal(await ovh.requestPromised('POST', `${base}/${created.id}/reset`), null);
          const reset = (await ovh.requestPromised('GET', `${base}/${created.id}`)) as Cluster;
          assert.equal(reset.status, 'RESETTING');
          assert.equal(reset.kubeProxyMode, 'ipvs', 'a reset without kubeProxyMode goes back to ipvs');
          assert.deepEqual(reset.customization.kubeProxy, {});

          const kubeconfig = (await ovh.requestPromised('POST', `${base}/${created.id}/kubeconfig`)) as {
            content: string;
          };
          assert.match(kubeconfig.content, /^apiVersion: v1/m);
          assert.match(kubeconfig.content, /certificate-authority-data: /);

          assert.equal(await ovh.requestPromised('DELETE', `${base}/${created.id}`), null);
          const gone = await waitFor(
            async () => {
              const failure = await rejection(ovh.requestPromised('GET', `${base}/${created.id}`)).catch(
                () => undefined,
              );
              return failure?.error === 404 ? failure : undefined;
            },
            { what: 'the deleted cluster to answer 404' },
          );
          assert.equal(gone.message, `Cluster ${created.id} does not exist`);
          assert.equal(((await ovh.requestPromised('GET', base)) as string[]).includes(created.id), false);
        });

        test("errors carry mks's status and message", async () => {
          const badRegion = await rejection(ovh.requestPromised('POST', base, { region: 'NOWHERE' }));
          assert.equal(badRegion.error, 400);
          assert.match(badRegion.message, /^region: 'NOWHERE' is not offered; available regions: /);

          const badField = await rejection(
            ovh.requestPromised('POST', base, { region: 'GRA11', colour: 'blue' }),
          );
          assert.equal(badField.error, 400);
          assert.match(badField.message, /colour: unknown field/);

          const notFound = await rejection(
            ovh.requestPromised('GET', '/cloud/project/0123456789abcdef/kube'),
          );
          assert.deepEqual(notFound, { error: 404, message: 'This service does not exist' });

          const wrongSecret = create({
            host: '127.0.0.1',
            port,
            appKey: server.credentials.applicationKey,
            appSecret: 'not-the-secret',
            consumerKey: server.credentials.consumerKey,
          });
          assert.deepEqual(await rejection(wrongSecret.requestPromised('GET', '/cloud/project')), {
            error: 400,
            message: 'Invalid signature',
          });
        });

        test('/auth/details and /auth/currentCredential, which these clients never sign, are refused with the reason', async () => {
          for (const route of ['/auth/details', '/auth/currentCredential']) {
            const refused = await rejection(ovh.requestPromised('GET', route));
            assert.equal(refused.error, 401);
            assert.match(refused.message, /never sign paths containing \/auth/);
          }
          // What they can do instead: any signed call.
          assert.deepEqual(await ovh.requestPromised('GET', '/cloud/project'), [server.projectId]);
        });

        test('POST /auth/credential with only the application key returns a pending consumer key, refused until validated', async () => {
          const unsigned = clientFor(create);
          const rules = [
            { method: 'GET', path: '/cloud/project' },
            { method: 'GET', path: '/cloud/project/*' },
          ];
          const requested = (await unsigned.requestPromised('POST', '/auth/credential', {
            accessRules: rules,
            redirection: 'https://example.com/done',
          })) as { consumerKey: string; state: string; validationUrl: string };
          assert.equal(requested.state, 'pendingValidation');
          assert.match(requested.consumerKey, /^[A-Za-z0-9]{32}$/);
          const url = new URL(requested.validationUrl);
          assert.equal(`${url.origin}${url.pathname}`, `https://127.0.0.1:${port}/auth/`);
          const token = url.searchParams.get('credentialToken')!;

          const db = server.services.database.db;
          const row = await db
            .selectFrom('credentials')
            .selectAll()
            .where('ck_hash', '=', sha256(requested.consumerKey))
            .executeTakeFirstOrThrow();
          assert.deepEqual(
            {
              status: row.status,
              account: row.account_id,
              rules: JSON.parse(row.rules),
              redirection: row.redirection,
            },
            { status: 'pendingValidation', account: null, rules, redirection: 'https://example.com/done' },
          );
          assert.equal(
            row.validation_token_hash,
            sha256(token),
            'only the hash of the validation token is kept',
          );

          const pending = clientFor(create, requested.consumerKey);
          assert.deepEqual(await rejection(pending.requestPromised('GET', '/cloud/project')), {
            error: 403,
            message: 'This credential is not valid',
          });

          // What the console's validation page will do once a user logs in and approves.
          const owner = await db
            .selectFrom('projects')
            .select('account_id')
            .where('id', '=', server.projectId)
            .executeTakeFirstOrThrow();
          await db
            .updateTable('credentials')
            .set({ status: 'validated', account_id: owner.account_id })
            .where('id', '=', row.id)
            .execute();
          assert.deepEqual(await pending.requestPromised('GET', '/cloud/project'), [server.projectId]);
          const denied = await rejection(
            pending.requestPromised('DELETE', `/cloud/project/${server.projectId}/kube/x`),
          );
          assert.deepEqual(denied, { error: 403, message: 'This call has not been granted' });
        });

        test('POST /auth/credential refuses what it cannot honour, in OVH error bodies', async () => {
          const unsigned = clientFor(create);
          const noRules = await rejection(unsigned.requestPromised('POST', '/auth/credential', {}));
          assert.equal(noRules.error, 400);
          assert.match(noRules.message, /accessRules: this field is required/);
          const ips = await rejection(
            unsigned.requestPromised('POST', '/auth/credential', {
              accessRules: [{ method: 'GET', path: '/*' }],
              allowedIPs: ['192.0.2.0/24'],
            }),
          );
          assert.equal(ips.error, 400);
          assert.match(ips.message, /allowedIPs/);
          const unknownApp = create({ host: '127.0.0.1', port, appKey: 'NoSuchAppKey0000', appSecret: 'x' });
          assert.deepEqual(
            await rejection(
              unknownApp.requestPromised('POST', '/auth/credential', {
                accessRules: [{ method: 'GET', path: '/*' }],
              }),
            ),
            { error: 403, message: 'This application key is invalid' },
          );
        });
      });
    }

    test('every response, refusals included, carries X-Ovh-QueryID and a JSON body', async () => {
      const get = (pathname: string, headers: Record<string, string> = {}) =>
        new Promise<{ status: number; queryId: string | undefined; body: string }>((resolve, reject) => {
          https
            .get({ host: '127.0.0.1', port, path: pathname, headers }, (response) => {
              let body = '';
              response.on('data', (chunk: Buffer) => {
                body += chunk.toString();
              });
              response.on('end', () =>
                resolve({
                  status: response.statusCode!,
                  queryId: response.headers['x-ovh-queryid'] as string,
                  body,
                }),
              );
            })
            .on('error', reject);
        });
      const replies = [
        await get('/1.0/auth/time'),
        await get('/1.0/auth/details', { 'X-Ovh-Application': server.credentials.applicationKey }),
        await get('/1.0/cloud/project'),
        await get('/nowhere'),
      ];
      assert.deepEqual(
        replies.map((reply) => reply.status),
        [200, 401, 401, 404],
      );
      for (const reply of replies) {
        assert.match(reply.queryId ?? '', /^EU\.ext-mks\./);
        JSON.parse(reply.body);
      }
    });
  });
}

describe('TLS set-up', () => {
  const children: MksProcess[] = [];
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(children.map((child) => child.kill('SIGKILL')));
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-tls-'));
    dirs.push(dir);
    return dir;
  };

  test('mks serve --tls prints NODE_EXTRA_CA_CERTS, and a client run with it works unchanged', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const kubePort = await freePort();
    const child = new MksProcess(
      [
        'serve',
        '--tls',
        '--data-dir',
        dataDir,
        '--listen',
        `127.0.0.1:${port}`,
        '--kube-listen',
        `127.0.0.1:${kubePort}`,
        '--log-level',
        'warn',
      ],
      cleanEnv(),
    );
    children.push(child);
    await child.printed(/NODE_EXTRA_CA_CERTS=\S+/, 'the banner', 30_000);
    const output = child.output;
    assert.match(output, new RegExp(`mks is serving https://127\\.0\\.0\\.1:${port}/1\\.0`));
    const caFile = /export NODE_EXTRA_CA_CERTS=(\S+)/.exec(output)![1]!;
    assert.equal(caFile, path.join(dataDir, 'tls', 'ca.crt'));
    const conf = readOvhConf(path.join(dataDir, 'ovh.conf'))!;
    assert.equal(conf.endpoint, `https://127.0.0.1:${port}/1.0`);

    const script = `
      const ovh = require('ovh')({ host: '127.0.0.1', port: ${port}, appKey: process.env.AK, appSecret: process.env.AS, consumerKey: process.env.CK });
      ovh.requestPromised('GET', '/cloud/project').then((ids) => console.log(JSON.stringify(ids)), (e) => { console.error(JSON.stringify(e)); process.exit(1); });`;
    const run = (env: Record<string, string>) =>
      runProcess(process.execPath, ['-e', script], {
        cwd: ROOT,
        env: cleanEnv({
          AK: conf.applicationKey!,
          AS: conf.applicationSecret!,
          CK: conf.consumerKey!,
          ...env,
        }),
      });
    const trusted = await run({ NODE_EXTRA_CA_CERTS: caFile });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal((JSON.parse(trusted.stdout) as string[]).length, 1);
    const untrusted = await run({});
    assert.equal(untrusted.code, 1, 'without the CA the certificate is not trusted');

    await child.kill('SIGTERM');
  });

  test("an operator's own certificate and key are served instead of the local CA's", async () => {
    // An unrelated CA, as an operator's PKI would be.
    const pki = tempDir();
    const own = loadOrCreateLocalTls(pki, ['127.0.0.1', 'localhost']);
    const server = await startTestServer('sqlite', {
      MKS_TLS_CERT: path.join(pki, 'tls', 'server.crt'),
      MKS_TLS_KEY: path.join(pki, 'tls', 'server.key'),
    });
    try {
      assert.equal(server.runtime.apiCaFile, undefined, 'no local CA to advertise');
      const served = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect(
          { host: '127.0.0.1', port: server.config.listen.port, ca: own.caPem },
          () => {
            resolve(socket.getPeerX509Certificate()!.fingerprint256);
            socket.end();
          },
        );
        socket.on('error', reject);
      });
      assert.equal(served, new (await import('node:crypto')).X509Certificate(own.certPem).fingerprint256);
      const ovh = (require('@ovhcloud/node-ovh') as OvhFactory)({
        host: '127.0.0.1',
        port: server.config.listen.port,
        appKey: server.credentials.applicationKey,
        appSecret: server.credentials.applicationSecret,
        consumerKey: server.credentials.consumerKey,
      });
      const previous = https.globalAgent.options.ca;
      https.globalAgent.options.ca = own.caPem;
      try {
        assert.deepEqual(await ovh.requestPromised('GET', '/cloud/project'), [server.projectId]);
      } finally {
        https.globalAgent.options.ca = previous;
      }
    } finally {
      await server.close();
    }
  });
});
