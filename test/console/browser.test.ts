/**
 * The console in a real browser: Debian's chromium through playwright-core, driven by role
 * locators and the keyboard, against a running mks over plain HTTP (the console signs there too,
 * with its bundled SHA-1), and one over HTTPS for the `ovh` npm client, which speaks only HTTPS. One browser for the file, one page per flow: sign in; validate a key an
 * official client (`ovh`) asked for, then use it; create a token and use its three keys with the
 * Terraform contract suite's (go-ovh's) signing; try a call in the explorer; change a
 * customization and watch it roll out; revoke a key and see its next call fail; sign out. axe-core
 * runs on every page (no serious or critical violation). With MKS_UPDATE_SCREENSHOTS=1 each page
 * is saved to docs/console/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { sha256 } from '../../src/auth/tokens.ts';
import { GoOvhClient } from '../contract/go-ovh.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCREENSHOTS = path.join(ROOT, 'docs/console');
const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ovhFactory = require('ovh') as (params: Record<string, unknown>) => {
  requestPromised(method: string, path: string, params?: Record<string, unknown>): Promise<unknown>;
};
const WAIT = { timeout: 15_000 };

/** axe-core in the page (through the debugger protocol, so the page's CSP is left as served). */
async function assertAccessible(page: Page, name: string): Promise<void> {
  await page.evaluate(`${AXE}\n;undefined`);
  const violations = (await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations;
  })) as { id: string; impact: string; help: string; nodes: { target: string[] }[] }[];
  const serious = violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
    );
  assert.deepEqual(serious, [], `${name}: axe found serious or critical violations`);
  if (process.env.MKS_UPDATE_SCREENSHOTS === '1') {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }
}

function consoleLogin(server: TestServer): { login: string; password: string } {
  const text = fs.readFileSync(server.runtime.first.consoleLoginFile!, 'utf8');
  return { login: /^login=(.*)$/m.exec(text)![1]!, password: /^password=(.*)$/m.exec(text)![1]! };
}

describe('the web console in chromium', () => {
  let server: TestServer;
  let context: BrowserContext;
  let origin: string;
  let login: string;
  let password: string;
  let userDataDir: string;

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (npm test and .ci/run install it)`);
    }
    server = await startTestServer('sqlite');
    origin = new URL(server.config.publicUrl).origin;
    ({ login, password } = consoleLogin(server));
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-chromium-'));
    // A new, empty profile (playwright passes it as --user-data-dir). The API's certificate comes
    // from the installation's local CA, which this browser does not know.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 900 },
    });
  });
  after(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir !== undefined) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  /** Signs in through the form, with the keyboard. */
  async function signIn(page: Page): Promise<void> {
    await page.goto(`${origin}/`);
    await page.getByRole('heading', { name: 'Sign in to mks' }).waitFor(WAIT);
    await page.getByRole('textbox', { name: 'Login' }).fill(login);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Clusters', level: 1 }).waitFor(WAIT);
  }

  test('sign in with the keyboard: a wrong password is refused, the right one mints a scoped expiring key', async () => {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.getByRole('heading', { name: 'Sign in to mks' }).waitFor(WAIT);
    await assertAccessible(page, 'sign-in');
    await page.getByRole('textbox', { name: 'Login' }).fill(login);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Invalid login or password' }).waitFor(WAIT);

    await signIn(page);
    await assertAccessible(page, 'clusters');
    const stored = JSON.parse((await page.evaluate(() => sessionStorage.getItem('mks.session')))!) as {
      consumerKey: string;
    };
    const row = await server.services.database.db
      .selectFrom('credentials')
      .selectAll()
      .where('ck_hash', '=', sha256(stored.consumerKey))
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'validated');
    assert.equal(row.origin, 'console');
    const hours = (Date.parse(row.expires_at!) - Date.now()) / 3600_000;
    assert.ok(hours > 7.9 && hours <= 8, `the session key expires in 8 h (${hours})`);
    await page.close();
  });

  test('a key requested by the ovh npm client is validated on the validation page, then works', async () => {
    // The ovh package speaks HTTPS only: a server with the local CA, trusted by node's https agent.
    const tlsServer = await startTestServer('sqlite', { MKS_TLS: 'true' });
    const previousCa = https.globalAgent.options.ca;
    https.globalAgent.options.ca = fs.readFileSync(tlsServer.runtime.apiCaFile!);
    const page = await context.newPage();
    try {
      const port = tlsServer.config.listen.port;
      const tlsOrigin = new URL(tlsServer.config.publicUrl).origin;
      const account = consoleLogin(tlsServer);
      const { applicationKey: appKey, applicationSecret: appSecret } = tlsServer.credentials;
      const unsigned = ovhFactory({ host: '127.0.0.1', port, appKey, appSecret });
      const requested = (await unsigned.requestPromised('POST', '/auth/credential', {
        accessRules: [
          { method: 'GET', path: '/cloud/project' },
          { method: 'GET', path: '/cloud/project/*' },
        ],
        redirection: `${tlsOrigin}/console/clusters?validated=1`,
      })) as { consumerKey: string; validationUrl: string };

      await page.goto(requested.validationUrl);
      await page.getByRole('heading', { name: 'mks-default asks for access to your account' }).waitFor(WAIT);
      const rights = page.getByRole('list', { name: 'Rights requested' });
      assert.deepEqual(await rights.getByRole('listitem').allTextContents(), [
        'GET /cloud/project — Read /cloud/project',
        'GET /cloud/project/* — Read /cloud/project/*',
      ]);
      assert.equal(await page.getByRole('combobox', { name: 'Validity' }).inputValue(), '86400');
      await assertAccessible(page, 'validation');
      await page.getByRole('textbox', { name: 'Login' }).fill(account.login);
      await page.getByLabel('Password').fill(account.password);
      await page.getByRole('button', { name: 'Authorize' }).press('Enter');
      await page.waitForURL(`${tlsOrigin}/console/clusters?validated=1`, WAIT);

      const client = ovhFactory({
        host: '127.0.0.1',
        port,
        appKey,
        appSecret,
        consumerKey: requested.consumerKey,
      });
      assert.deepEqual(await client.requestPromised('GET', '/cloud/project'), [tlsServer.projectId]);

      // The link is spent: opening it again says so.
      await page.goto(requested.validationUrl);
      await page.getByRole('alert').filter({ hasText: 'unknown or has already been used' }).waitFor(WAIT);
    } finally {
      await page.close();
      // Deleted, not set to undefined: an own `ca: undefined` on the global agent's options makes
      // later requests that pass their own `ca` (the rollout read) fail to verify (seen on Node 20).
      if (previousCa === undefined) delete https.globalAgent.options.ca;
      else https.globalAgent.options.ca = previousCa;
      await tlsServer.close();
    }
  });

  test("createToken pre-fills OVH's query string, shows the keys once, and they sign as go-ovh signs", async () => {
    const page = await context.newPage();
    await page.goto(`${origin}/createToken/?GET=/*&POST=/cloud/project/*/kube&get=*&PATCH=/x`);
    await page.getByRole('heading', { name: 'Create API keys' }).waitFor(WAIT);
    await page.getByRole('alert').filter({ hasText: '“PATCH” in the address is not a method' }).waitFor(WAIT);
    const paths = await Promise.all(
      [1, 2, 3].map((index) => page.getByRole('textbox', { name: `Path of right ${index}` }).inputValue()),
    );
    assert.deepEqual(paths, ['/*', '/cloud/project/*/kube', '/*']);
    assert.equal(await page.getByRole('combobox', { name: 'Method of right 2' }).inputValue(), 'POST');
    await assertAccessible(page, 'create-token');
    await page.getByRole('button', { name: 'Remove right 3' }).press('Enter');
    await page.getByRole('textbox', { name: 'Login' }).fill(login);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('textbox', { name: 'Application name' }).fill('terraform-ci');
    await page.getByRole('combobox', { name: 'Validity' }).selectOption({ label: '7 days' });
    await page.getByRole('button', { name: 'Create keys' }).press('Enter');
    await page.getByRole('heading', { name: 'Your API keys' }).waitFor(WAIT);
    await assertAccessible(page, 'create-token-result');
    const value = (name: string) => page.getByRole('textbox', { name, exact: true }).inputValue();
    const keys = {
      endpoint: server.config.publicUrl,
      applicationKey: await value('Application key'),
      applicationSecret: await value('Application secret'),
      consumerKey: await value('Consumer key'),
    };
    assert.match(
      await value('Terraform provider block'),
      new RegExp(`endpoint += "${server.config.publicUrl}"`),
    );
    assert.match(
      await value('Environment variables'),
      new RegExp(`export OVH_CONSUMER_KEY=${keys.consumerKey}`),
    );

    const goOvh = new GoOvhClient(keys, { userAgent: 'Terraform/1.9.0', now: Date.now });
    const details = await goOvh.call<{ account: string }>('GET', '/auth/details');
    assert.equal(details.account, login);
    assert.deepEqual(await goOvh.call('GET', '/cloud/project'), [server.projectId]);
    await page.close();
  });

  test('the explorer finds an operation, deep-links it, checks the rule and sends a signed call', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.getByRole('link', { name: 'API explorer' }).press('Enter');
    await page.getByRole('heading', { name: 'API explorer' }).waitFor(WAIT);
    await page.getByRole('searchbox', { name: 'Search operations' }).fill('clusters ids');
    const operations = page.getByRole('navigation', { name: 'Operations' }).getByRole('link');
    await waitFor(async () => (await operations.count()) === 1, { what: 'one matching operation' });
    await operations.first().press('Enter');
    await page.waitForURL(/#GET%20%2F1\.0%2Fcloud%2Fproject%2F%7BserviceName%7D%2Fkube$/, WAIT);
    const deepLink = page.url();
    await page.getByText('your key may call this').waitFor(WAIT);
    assert.equal(
      await page.getByRole('textbox', { name: 'serviceName (path)' }).inputValue(),
      server.projectId,
    );
    await page.getByRole('button', { name: 'Send signed request' }).press('Enter');
    const inspector = page.getByRole('region', { name: 'Inspector' });
    await inspector.getByRole('heading', { name: /^Response 200 in \d+ ms$/ }).waitFor(WAIT);
    assert.match((await inspector.textContent()) ?? '', /X-Ovh-QueryID: EU\.ext-mks\./);
    assert.doesNotMatch(
      (await inspector.textContent()) ?? '',
      new RegExp(server.credentials.applicationSecret),
    );
    await assertAccessible(page, 'explorer');

    // The deep link opens the same operation in a fresh page of this tab's session.
    await page.goto(deepLink);
    await page.getByRole('heading', { name: 'GET /1.0/cloud/project/{serviceName}/kube' }).waitFor(WAIT);
    await page.close();
  });

  test('a cluster is created, its kube-proxy customization refused with the field named, then changed and rolled out', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.getByRole('textbox', { name: 'Name' }).fill('web-demo');
    await page.getByRole('combobox', { name: 'kube-proxy mode' }).selectOption('ipvs');
    await page.getByRole('button', { name: 'Create cluster' }).press('Enter');
    await page.getByRole('heading', { name: 'web-demo', level: 1 }).waitFor(WAIT);
    await page.getByText('Status: READY').waitFor({ timeout: 30_000 });

    await page.getByRole('textbox', { name: 'iptables minSyncPeriod' }).fill('PT45S');
    await page.getByRole('button', { name: 'Save kube-proxy customization' }).press('Enter');
    const refusal = page
      .getByRole('alert')
      .filter({ hasText: 'customization.kubeProxy.iptables.minSyncPeriod' });
    await refusal.waitFor(WAIT);
    assert.equal(
      await page.getByRole('textbox', { name: 'iptables minSyncPeriod' }).getAttribute('aria-invalid'),
      'true',
    );

    await page.getByRole('textbox', { name: 'iptables syncPeriod' }).fill('PT60S');
    await page.getByRole('button', { name: 'Save kube-proxy customization' }).press('Enter');
    await page.getByText('Saved. The change rolls out node by node.').waitFor(WAIT);
    await page
      .getByText(/^Status: READY · kube-proxy: (\d+)\/\1 nodes on the new configuration$/)
      .waitFor({ timeout: 30_000 });
    const values = page.getByRole('table', { name: 'kube-proxy values in effect' });
    const row = (field: string) => values.getByRole('row').filter({ hasText: field });
    assert.match((await row('iptables.syncPeriod').textContent()) ?? '', /PT60S\s*set/);
    assert.match((await row('ipvs.syncPeriod').textContent()) ?? '', /PT30S\s*default/);
    await assertAccessible(page, 'cluster');
    const [id] = await server.client.call<string[]>('GET', `/cloud/project/${server.projectId}/kube`);
    const cluster = await server.client.call<{ status: string; customization: { kubeProxy: unknown } }>(
      'GET',
      `/cloud/project/${server.projectId}/kube/${id}`,
    );
    assert.deepEqual(cluster.customization.kubeProxy, {
      iptables: { minSyncPeriod: 'PT45S', syncPeriod: 'PT60S' },
    });
    await page.close();
  });

  test('revoking a key on the credentials page makes its next call fail; signing out expires the session', async () => {
    const page = await context.newPage();
    await signIn(page);
    const token = (await fetch(`${origin}/console/api/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ login, password, name: 'to-revoke', rules: [{ method: 'GET', path: '/*' }] }),
    }).then((response) => response.json())) as {
      applicationKey: string;
      applicationSecret: string;
      consumerKey: string;
    };
    const goOvh = new GoOvhClient(
      { endpoint: server.config.publicUrl, ...token },
      { userAgent: 'test', now: Date.now },
    );
    assert.deepEqual(await goOvh.call('GET', '/cloud/project'), [server.projectId]);
    const { id } = await server.services.database.db
      .selectFrom('credentials')
      .select('id')
      .where('ck_hash', '=', sha256(token.consumerKey))
      .executeTakeFirstOrThrow();

    await page.getByRole('link', { name: 'Credentials' }).press('Enter');
    await page.getByRole('heading', { name: 'Credentials', level: 1 }).waitFor(WAIT);
    await page.getByRole('row').filter({ hasText: '(this session)' }).waitFor(WAIT);
    const keyRow = page.getByRole('row').filter({ hasText: 'to-revoke' });
    assert.match((await keyRow.textContent()) ?? '', /validated.*GET \/\*.*createToken/);
    await assertAccessible(page, 'credentials');
    await keyRow.getByRole('button', { name: `Revoke key ${id}` }).press('Enter');
    await page.keyboard.press('Enter'); // the confirmation button has the focus
    await page
      .getByRole('status')
      .filter({ hasText: `Key ${id} revoked` })
      .waitFor(WAIT);
    await assert.rejects(goOvh.call('GET', '/cloud/project'), /This credential does not exist/);

    const session = JSON.parse((await page.evaluate(() => sessionStorage.getItem('mks.session')))!) as {
      consumerKey: string;
    };
    await page.getByRole('button', { name: 'Sign out' }).press('Enter');
    await page.getByRole('heading', { name: 'Sign in to mks' }).waitFor(WAIT);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mks.session')), null);
    await waitFor(
      async () => {
        const row = await server.services.database.db
          .selectFrom('credentials')
          .select('expires_at')
          .where('ck_hash', '=', sha256(session.consumerKey))
          .executeTakeFirstOrThrow();
        return Date.parse(row.expires_at!) <= Date.now();
      },
      { what: 'the session key to be expired by POST /auth/logout' },
    );

    // A session key revoked elsewhere: the next page asks to sign in again.
    await signIn(page);
    const next = JSON.parse((await page.evaluate(() => sessionStorage.getItem('mks.session')))!) as {
      consumerKey: string;
    };
    const nextRow = await server.services.database.db
      .selectFrom('credentials')
      .select('id')
      .where('ck_hash', '=', sha256(next.consumerKey))
      .executeTakeFirstOrThrow();
    await server.client.call('DELETE', `/me/api/credential/${nextRow.id}`);
    await page.getByRole('link', { name: 'Credentials' }).press('Enter');
    await page.getByText('Your session has ended: sign in again.').waitFor(WAIT);
    await page.getByRole('heading', { name: 'Sign in to mks' }).waitFor(WAIT);
    await page.close();
  });
});
