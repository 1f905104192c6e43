/**
 * The emulated kube-proxy against the real one: every `config.conf` of the corpus recorded from
 * kube-proxy v1.32.13 (test/fixtures/kube-proxy-config-corpus.json, a copy of
 * shared/fidelity/kube-proxy-config-corpus.json) gets the real verdict, and the real error text
 * where the real kube-proxy refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { readKubeProxyConfig } from '../../src/emulator/cluster/kube-proxy.ts';

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
