/**
 * The emulated kube-proxy against the real one: every `config.conf` of the corpus recorded from
 * kube-proxy v1.32.13 (test/fixtures/kube-proxy-config-corpus.json, a copy of
 * shared/fidelity/kube-proxy-config-corpus.json) gets the real verdict, and the real error text
 * where the real kube-proxy refused; and what mks renders loads.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { renderKubeProxyConfig } from '../../src/customization/kube-proxy-config.ts';
import { loadKubeProxyConfig, readKubeProxyConfig } from '../../src/emulator/cluster/kube-proxy.ts';

interface CorpusEntry {
  readonly label: string;
  readonly configConf: string;
  readonly real: 'accept' | 'refuse';
  readonly realError?: string;
}

const corpus = JSON.parse(
  fs.readFileSync(new URL('../fixtures/kube-proxy-config-corpus.json', import.meta.url), 'utf8'),
) as { recordedWith: string; entries: CorpusEntry[] };
const VERSION = /Kubernetes v(\d+\.\d+\.\d+)/.exec(corpus.recordedWith)?.[1];

test('the corpus is the one recorded from kube-proxy 1.32, both verdicts present', () => {
  assert.equal(VERSION, '1.32.13');
  assert.equal(corpus.entries.length, 253);
  assert.ok(corpus.entries.some((entry) => entry.real === 'accept'));
  assert.ok(corpus.entries.some((entry) => entry.real === 'refuse'));
});

test('every corpus entry gets the real kube-proxy verdict and error text', () => {
  const differences: string[] = [];
  for (const entry of corpus.entries) {
    const result = readKubeProxyConfig(entry.configConf, VERSION ?? '');
    const verdict = result.ok ? 'accept' : 'refuse';
    if (verdict !== entry.real) {
      differences.push(
        `${entry.label}: ${verdict} instead of ${entry.real}${result.ok ? '' : ` (${result.message})`}`,
      );
    } else if (!result.ok && entry.realError !== undefined && result.message !== entry.realError) {
      differences.push(
        `${entry.label}: said ${JSON.stringify(result.message)}, real ${JSON.stringify(entry.realError)}`,
      );
    }
  }
  assert.deepEqual(differences, []);
});

test("the configs mks renders load in the emulated kube-proxy (the product's renderer against the emulator's parser)", () => {
  const loaded = loadKubeProxyConfig(
    renderKubeProxyConfig({ mode: 'ipvs', clusterCIDR: '10.2.0.0/16' }),
    '1.31.4',
  );
  assert.deepEqual(loaded.ok ? undefined : loaded.message, undefined);
});
