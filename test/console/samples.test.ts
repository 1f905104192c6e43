/**
 * The explorer's code samples run: for a GET and a POST whose body needs shell quoting, the mks
 * CLI line, the curl signing script and the node `ovh` program are executed against a live mks
 * over HTTPS (the ovh package speaks nothing else) and must answer what the API answers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { codeSamples } from '../../web/samples.ts';
import { credentialEnv } from '../support/cli.ts';
import { DIALECTS } from '../support/dialects.ts';
import { MKS } from '../support/mks-process.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

for (const dialect of DIALECTS) {
  describe(`the explorer's code samples against mks (${dialect})`, () => {
    let server: TestServer;
    let bin: string;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      server = await startTestServer(dialect, { MKS_TLS: 'true' });
      // `mks` on PATH, as the sample assumes.
      bin = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-samples-'));
      fs.writeFileSync(path.join(bin, 'mks'), `#!/bin/sh\nexec "${process.execPath}" "${MKS}" "$@"\n`, {
        mode: 0o755,
      });
      const ca = server.runtime.apiCaFile!;
      env = {
        PATH: `${bin}:${process.env.PATH}`,
        HOME: bin,
        ...credentialEnv(server.credentials),
        NODE_EXTRA_CA_CERTS: ca,
        CURL_CA_BUNDLE: ca,
      };
    });
    after(async () => {
      await server?.close();
      if (bin !== undefined) fs.rmSync(bin, { recursive: true, force: true });
    });

    const samplesFor = (method: string, samplePath: string, body = '') =>
      new Map(
        codeSamples({
          endpoint: server.config.publicUrl,
          host: '127.0.0.1',
          port: server.config.listen.port,
          method,
          path: samplePath,
          body,
        }),
      );

    async function runAll(samples: Map<string, string>): Promise<unknown[]> {
      const cli = await run('sh', ['-c', samples.get('mks CLI')!], { env, cwd: bin });
      const curl = await run('sh', ['-c', samples.get('curl (signing script)')!], { env, cwd: bin });
      // Run from the repository so `import 'ovh'` resolves to its node_modules.
      const node = await run(process.execPath, ['--input-type=module', '-e', samples.get('node (ovh)')!], {
        env,
        cwd: ROOT,
      });
      return [JSON.parse(cli.stdout), JSON.parse(curl.stdout), JSON.parse(node.stdout)];
    }

    test('a GET sample from each client answers the project list', async () => {
      const answers = await runAll(samplesFor('GET', '/cloud/project'));
      assert.deepEqual(answers, [[server.projectId], [server.projectId], [server.projectId]]);
    });

    test('a POST sample with a body that needs quoting creates what it says, from each client', async () => {
      const body = JSON.stringify({ region: 'GRA5', name: "it's a sample" });
      const answers = (await runAll(samplesFor('POST', `/cloud/project/${server.projectId}/kube`, body))) as {
        name: string;
        region: string;
      }[];
      assert.deepEqual(
        answers.map((cluster) => [cluster.name, cluster.region]),
        [
          ["it's a sample", 'GRA5'],
          ["it's a sample", 'GRA5'],
          ["it's a sample", 'GRA5'],
        ],
      );
      // (Read from the store: this process's fetch does not trust the local CA.)
      const rows = await server.services.database.db
        .selectFrom('clusters')
        .select('name')
        .where('project_id', '=', server.projectId)
        .execute();
      assert.deepEqual(
        rows.map((row) => row.name),
        ["it's a sample", "it's a sample", "it's a sample"],
      );
    });

    test('the go-ovh and Terraform samples carry this endpoint', () => {
      const samples = samplesFor('GET', '/cloud/project');
      assert.match(samples.get('go (go-ovh)')!, new RegExp(`ovh\\.NewClient\\("${server.config.publicUrl}"`));
      assert.match(samples.get('Terraform')!, new RegExp(`endpoint = "${server.config.publicUrl}"`));
    });
  });
}
