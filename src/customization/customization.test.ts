import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GUIDE_KUBE_PROXY } from '../../test/support/fixtures.ts';
import { AppError } from '../errors.ts';
import type { Customization, CustomizationInput } from './customization.model.ts';
import {
  customizationEquals,
  customizationView,
  effectiveAdmissionPlugins,
  kubeProxyWarnings,
  mergeCustomization,
  normalizeCustomization,
  renderAdmissionFlags,
  validateCustomization,
} from './customization.ts';

/** The message of the 400 validateCustomization throws, or undefined when it accepts. */
function refusal(input: CustomizationInput): string | undefined {
  try {
    validateCustomization(normalizeCustomization(input));
    return undefined;
  } catch (error) {
    assert.ok(error instanceof AppError);
    assert.equal(error.kind, 'BadRequest');
    return error.message;
  }
}

// The guide's payloads (spec/seed-kube-proxy-customization.txt).
const GUIDE_GET_EXAMPLE = {
  apiServer: { admissionPlugins: { disabled: [], enabled: ['AlwaysPullImages', 'NodeRestriction'] } },
  kubeProxy: GUIDE_KUBE_PROXY,
};
const GUIDE_CREATE = { kubeProxy: GUIDE_GET_EXAMPLE.kubeProxy };
const GUIDE_UPDATE_KUBE_PROXY_ONLY = {
  kubeProxy: { iptables: { minSyncPeriod: 'PT60S', syncPeriod: 'PT60S' } },
};
const GUIDE_UPDATE_BOTH = {
  apiServer: { admissionPlugins: { enabled: [], disabled: ['AlwaysPullImages'] } },
  kubeProxy: { iptables: { syncPeriod: 'PT120S' } },
};

test("the guide's GET example is valid and echoes back unchanged", () => {
  const stored = normalizeCustomization(GUIDE_GET_EXAMPLE);
  validateCustomization(stored);
  assert.deepEqual(customizationView(stored), GUIDE_GET_EXAMPLE);
});

test("the guide's create payload is valid and echoes its kube-proxy fields with default plugins", () => {
  const stored = normalizeCustomization(GUIDE_CREATE);
  validateCustomization(stored);
  assert.deepEqual(customizationView(stored), {
    apiServer: { admissionPlugins: { enabled: ['AlwaysPullImages', 'NodeRestriction'], disabled: [] } },
    kubeProxy: GUIDE_CREATE.kubeProxy,
  });
});

test('updating only kubeProxy keeps the apiServer section and replaces kubeProxy whole', () => {
  const stored = normalizeCustomization({
    ...GUIDE_CREATE,
    apiServer: { admissionPlugins: { enabled: ['NodeRestriction'], disabled: ['AlwaysPullImages'] } },
  });
  const next = mergeCustomization(stored, GUIDE_UPDATE_KUBE_PROXY_ONLY);
  validateCustomization(next);
  assert.deepEqual(customizationView(next), {
    apiServer: { admissionPlugins: { enabled: ['NodeRestriction'], disabled: ['AlwaysPullImages'] } },
    kubeProxy: { iptables: { minSyncPeriod: 'PT60S', syncPeriod: 'PT60S' } },
  });
});

test('updating both sections overrides kubeProxy, so the earlier minSyncPeriod is removed', () => {
  const stored = mergeCustomization(normalizeCustomization(GUIDE_CREATE), GUIDE_UPDATE_KUBE_PROXY_ONLY);
  const next = mergeCustomization(stored, GUIDE_UPDATE_BOTH);
  validateCustomization(next);
  assert.deepEqual(customizationView(next), {
    apiServer: { admissionPlugins: { enabled: [], disabled: ['AlwaysPullImages'] } },
    kubeProxy: { iptables: { syncPeriod: 'PT120S' } },
  });
  assert.deepEqual(effectiveAdmissionPlugins(next), {
    enabled: ['NodeRestriction'],
    disabled: ['AlwaysPullImages'],
  });
});

test('a top-level key sent as null or {} clears that section; absent keys are kept', () => {
  const stored = normalizeCustomization(GUIDE_GET_EXAMPLE);
  assert.deepEqual(mergeCustomization(stored, { kubeProxy: null }), { apiServer: stored.apiServer });
  assert.deepEqual(mergeCustomization(stored, { kubeProxy: {} }), { apiServer: stored.apiServer });
  assert.deepEqual(mergeCustomization(stored, { apiServer: {} }), { kubeProxy: stored.kubeProxy });
  assert.deepEqual(mergeCustomization(stored, { apiServer: null, kubeProxy: null }), {});
  assert.deepEqual(mergeCustomization(stored, {}), stored);
});

test('merging never shares objects with the stored customization', () => {
  const stored = normalizeCustomization(GUIDE_GET_EXAMPLE);
  const next = mergeCustomization(stored, {});
  next.kubeProxy!.iptables!.syncPeriod = 'PT1S';
  next.apiServer!.admissionPlugins.enabled.push('AlwaysPullImages');
  assert.equal(stored.kubeProxy?.iptables?.syncPeriod, 'PT30S');
  assert.equal(stored.apiServer?.admissionPlugins.enabled.length, 2);
});

test('normalizing drops nulls and empty objects and keeps duration strings byte for byte', () => {
  assert.deepEqual(normalizeCustomization(null), {});
  assert.deepEqual(normalizeCustomization(undefined), {});
  assert.deepEqual(normalizeCustomization({ kubeProxy: { iptables: {} } }), {});
  assert.deepEqual(normalizeCustomization({ kubeProxy: { iptables: { syncPeriod: null }, ipvs: null } }), {});
  assert.deepEqual(normalizeCustomization({ apiServer: { admissionPlugins: {} } }), {});
  assert.deepEqual(normalizeCustomization({ apiServer: { admissionPlugins: { enabled: null } } }), {});
  assert.deepEqual(normalizeCustomization({ apiServer: {} }), {});
  assert.deepEqual(
    normalizeCustomization({ kubeProxy: { ipvs: { tcpTimeout: 'PT0,5S', scheduler: null } } }),
    {
      kubeProxy: { ipvs: { tcpTimeout: 'PT0,5S' } },
    },
  );
});

test('an admission-plugins object with one list gets an empty other list', () => {
  assert.deepEqual(
    normalizeCustomization({ apiServer: { admissionPlugins: { disabled: ['AlwaysPullImages'] } } }),
    {
      apiServer: { admissionPlugins: { enabled: [], disabled: ['AlwaysPullImages'] } },
    },
  );
  assert.deepEqual(
    normalizeCustomization({ apiServer: { admissionPlugins: { enabled: [], disabled: null } } }),
    {
      apiServer: { admissionPlugins: { enabled: [], disabled: [] } },
    },
  );
});

test('the echo is never filled with kube-proxy defaults and keeps strings as sent', () => {
  const view = customizationView(
    normalizeCustomization({ kubeProxy: { iptables: { syncPeriod: 'PT60S' } } }),
  );
  assert.deepEqual(view.kubeProxy, { iptables: { syncPeriod: 'PT60S' } });
  assert.equal(JSON.stringify(view.kubeProxy), '{"iptables":{"syncPeriod":"PT60S"}}');
});

test('a customization never set echoes default plugins and an empty kubeProxy object', () => {
  assert.deepEqual(customizationView({}), {
    apiServer: { admissionPlugins: { enabled: ['AlwaysPullImages', 'NodeRestriction'], disabled: [] } },
    kubeProxy: {},
  });
});

test('the echo returns fresh objects each time', () => {
  const first = customizationView({});
  first.apiServer.admissionPlugins.enabled.pop();
  assert.deepEqual(customizationView({}).apiServer.admissionPlugins.enabled, [
    'AlwaysPullImages',
    'NodeRestriction',
  ]);
});

test('the echo keeps the plugin lists exactly as last set, even empty ones', () => {
  const c = normalizeCustomization({ apiServer: { admissionPlugins: { enabled: [], disabled: [] } } });
  assert.deepEqual(customizationView(c).apiServer, { admissionPlugins: { enabled: [], disabled: [] } });
  assert.deepEqual(effectiveAdmissionPlugins(c), {
    enabled: ['AlwaysPullImages', 'NodeRestriction'],
    disabled: [],
  });
});

test('every accepted duration form passes validation', () => {
  for (const value of ['PT0S', 'PT1S', 'PT0.5S', 'PT0,5S', 'PT1M30S', 'P1D', 'P1W', 'PT1H30S']) {
    assert.equal(refusal({ kubeProxy: { ipvs: { udpTimeout: value } } }), undefined, value);
  }
});

test('an invalid duration names the full path, the value, the reason and the accepted form', () => {
  const message = refusal({ kubeProxy: { iptables: { minSyncPeriod: 'P1M' } } });
  assert.match(message!, /^customization\.kubeProxy\.iptables\.minSyncPeriod: "P1M" is not a valid duration/);
  assert.match(message!, /months and years have no fixed length/);
  assert.match(message!, /ISO 8601 duration such as PT30S/);
});

test('each duration field is checked', () => {
  for (const [section, fields] of [
    ['iptables', ['minSyncPeriod', 'syncPeriod']],
    ['ipvs', ['minSyncPeriod', 'syncPeriod', 'tcpTimeout', 'tcpFinTimeout', 'udpTimeout']],
  ] as const) {
    for (const fieldName of fields) {
      const message = refusal({ kubeProxy: { [section]: { [fieldName]: '-PT1S' } } });
      assert.match(message!, new RegExp(`customization\\.kubeProxy\\.${section}\\.${fieldName}: "-PT1S"`));
      assert.match(message!, /signs are not allowed/);
    }
  }
});

test('the field prefix can be chosen by the caller', () => {
  assert.throws(
    () =>
      validateCustomization(normalizeCustomization({ kubeProxy: { ipvs: { syncPeriod: '30s' } } }), 'body'),
    /^AppError: body\.kubeProxy\.ipvs\.syncPeriod/,
  );
});

test('iptables minSyncPeriod above the default syncPeriod is refused with the effective value', () => {
  const message = refusal({ kubeProxy: { iptables: { minSyncPeriod: 'PT45S' } } });
  assert.match(
    message!,
    /customization\.kubeProxy\.iptables\.minSyncPeriod: "PT45S" \(45s\) is greater than the effective syncPeriod 30s \(kube-proxy's default, as syncPeriod is not set\)/,
  );
});

test('an explicit PT0S syncPeriod counts as the 30s default', () => {
  const message = refusal({ kubeProxy: { iptables: { minSyncPeriod: 'PT45S', syncPeriod: 'PT0S' } } });
  assert.match(message!, /effective syncPeriod 30s \(kube-proxy's default, as "PT0S" means "default"\)/);
  assert.equal(
    refusal({ kubeProxy: { iptables: { minSyncPeriod: 'PT30S', syncPeriod: 'PT0S' } } }),
    undefined,
  );
});

test('iptables syncPeriod below the 1s default minSyncPeriod is refused, even with PT0S minSyncPeriod', () => {
  for (const min of [undefined, 'PT0S']) {
    const message = refusal({ kubeProxy: { iptables: { syncPeriod: 'PT0.5S', minSyncPeriod: min } } });
    assert.match(
      message!,
      /customization\.kubeProxy\.iptables\.syncPeriod: "PT0.5S" \(500ms\) is less than the effective minSyncPeriod 1s/,
    );
  }
  assert.equal(
    refusal({ kubeProxy: { iptables: { syncPeriod: 'PT0.5S', minSyncPeriod: 'PT0.1S' } } }),
    undefined,
  );
});

test('explicit minSyncPeriod above explicit syncPeriod is refused in both sections', () => {
  const message = refusal({
    kubeProxy: {
      iptables: { minSyncPeriod: 'PT2M', syncPeriod: 'PT1M' },
      ipvs: { minSyncPeriod: 'PT2M', syncPeriod: 'PT1M' },
    },
  });
  assert.match(
    message!,
    /iptables\.minSyncPeriod: "PT2M" \(2m0s\) is greater than the effective syncPeriod "PT1M" \(1m0s\)/,
  );
  assert.match(message!, /ipvs\.minSyncPeriod: "PT2M"/);
});

test('ipvs minSyncPeriod alone above the 30s default is refused whatever the mode', () => {
  const message = refusal({ kubeProxy: { ipvs: { minSyncPeriod: 'PT1M' } } });
  assert.match(
    message!,
    /customization\.kubeProxy\.ipvs\.minSyncPeriod: "PT1M" \(1m0s\) is greater than the effective syncPeriod 30s/,
  );
});

test('ipvs minSyncPeriod has no default, so a short syncPeriod alone is fine', () => {
  assert.equal(refusal({ kubeProxy: { ipvs: { syncPeriod: 'PT0.5S' } } }), undefined);
  assert.equal(refusal({ kubeProxy: { ipvs: { syncPeriod: 'PT0.5S', minSyncPeriod: 'PT0S' } } }), undefined);
});

test('equal minSyncPeriod and syncPeriod are accepted, as in the guide', () => {
  assert.equal(refusal(GUIDE_UPDATE_KUBE_PROXY_ONLY), undefined);
});

test('IPVS tcpTimeout strictly between PT0S and PT5S is refused with OVH wording', () => {
  for (const value of ['PT0.000000001S', 'PT1S', 'PT4.999S']) {
    const message = refusal({ kubeProxy: { ipvs: { tcpTimeout: value } } });
    assert.match(
      message!,
      new RegExp(`ipvs\\.tcpTimeout: "${value}" cannot be set between 'PT0S' and 'PT5S'`),
    );
  }
  for (const value of ['PT0S', 'PT5S', 'PT1M']) {
    assert.equal(refusal({ kubeProxy: { ipvs: { tcpTimeout: value } } }), undefined, value);
  }
  assert.equal(refusal({ kubeProxy: { ipvs: { tcpFinTimeout: 'PT1S', udpTimeout: 'PT1S' } } }), undefined);
});

test('an unknown scheduler is refused with the allowed list', () => {
  const message = refusal({ kubeProxy: { ipvs: { scheduler: 'wrr' } } });
  assert.equal(
    message,
    'customization.kubeProxy.ipvs.scheduler: "wrr" is not a supported IPVS scheduler; allowed: dh, lc, nq, rr, sed, sh',
  );
});

test('a plugin both enabled and disabled is refused', () => {
  const message = refusal({
    apiServer: { admissionPlugins: { enabled: ['AlwaysPullImages'], disabled: ['AlwaysPullImages'] } },
  });
  assert.match(
    message!,
    /customization\.apiServer\.admissionPlugins: "AlwaysPullImages" is in both enabled and disabled/,
  );
});

test('NodeRestriction cannot be disabled', () => {
  const message = refusal({ apiServer: { admissionPlugins: { disabled: ['NodeRestriction'] } } });
  assert.match(
    message!,
    /admissionPlugins\.disabled: "NodeRestriction" cannot be disabled, it must stay enabled for security purposes/,
  );
  assert.match(message!, /only AlwaysPullImages can be disabled/);
});

test('duplicate and unknown plugin names are refused with the allowed list', () => {
  const message = refusal({
    apiServer: { admissionPlugins: { enabled: ['NodeRestriction', 'NodeRestriction', 'PodSecurity'] } },
  });
  assert.match(message!, /admissionPlugins\.enabled: "NodeRestriction" is listed more than once/);
  assert.match(
    message!,
    /admissionPlugins\.enabled: "PodSecurity" is not a known admission plugin; allowed: AlwaysPullImages, NodeRestriction/,
  );
});

test('all problems are reported at once, joined by "; "', () => {
  const message = refusal({
    apiServer: { admissionPlugins: { disabled: ['NodeRestriction'] } },
    kubeProxy: {
      iptables: { minSyncPeriod: 'P1Y' },
      ipvs: { tcpTimeout: 'PT2S', scheduler: 'x' },
    },
  });
  const parts = message!.split('; customization.');
  assert.equal(parts.length, 4, message);
});

test('a value of the wrong type is refused rather than crashing validation', () => {
  const c = { kubeProxy: { iptables: { syncPeriod: 30 } } } as unknown as Customization;
  assert.throws(() => validateCustomization(c), /iptables\.syncPeriod: 30 must be a string/);
});

test('effective plugins start from both enabled and apply the lists', () => {
  assert.deepEqual(effectiveAdmissionPlugins({}), {
    enabled: ['AlwaysPullImages', 'NodeRestriction'],
    disabled: [],
  });
  const c = normalizeCustomization({ apiServer: { admissionPlugins: { disabled: ['AlwaysPullImages'] } } });
  assert.deepEqual(effectiveAdmissionPlugins(c), {
    enabled: ['NodeRestriction'],
    disabled: ['AlwaysPullImages'],
  });
});

test('admission flags list enabled plugins and add a disable flag only when needed', () => {
  assert.deepEqual(renderAdmissionFlags({}), ['--enable-admission-plugins=AlwaysPullImages,NodeRestriction']);
  const c = normalizeCustomization(GUIDE_UPDATE_BOTH);
  assert.deepEqual(renderAdmissionFlags(c), [
    '--enable-admission-plugins=NodeRestriction',
    '--disable-admission-plugins=AlwaysPullImages',
  ]);
});

test('the ipvs deprecation warning appears from Kubernetes 1.35 in ipvs mode only', () => {
  assert.deepEqual(kubeProxyWarnings('1.34.9', 'ipvs'), []);
  assert.deepEqual(kubeProxyWarnings('1.35.0', 'iptables'), []);
  for (const version of ['1.35.0', '1.35', '1.36.2', 'v1.40.1']) {
    const [warning, ...rest] = kubeProxyWarnings(version, 'ipvs');
    assert.equal(rest.length, 0);
    assert.match(
      warning!,
      /The ipvs proxier is now deprecated and may be removed in a future release\. Please use 'nftables' instead\./,
    );
  }
  assert.deepEqual(kubeProxyWarnings('not-a-version', 'ipvs'), []);
});

test('equality compares what was set, including plugin order', () => {
  const a = normalizeCustomization(GUIDE_GET_EXAMPLE);
  const b = normalizeCustomization(JSON.parse(JSON.stringify(GUIDE_GET_EXAMPLE)));
  assert.ok(customizationEquals(a, b));
  assert.ok(
    !customizationEquals(a, mergeCustomization(a, { kubeProxy: { iptables: { syncPeriod: 'PT30S' } } })),
  );
  assert.ok(
    !customizationEquals(
      a,
      normalizeCustomization({ ...GUIDE_GET_EXAMPLE, kubeProxy: { iptables: { syncPeriod: 'PT0.5M' } } }),
    ),
  );
  const reordered = normalizeCustomization({
    apiServer: { admissionPlugins: { enabled: ['NodeRestriction', 'AlwaysPullImages'], disabled: [] } },
    kubeProxy: GUIDE_GET_EXAMPLE.kubeProxy,
  });
  assert.ok(!customizationEquals(a, reordered));
  assert.ok(customizationEquals({}, normalizeCustomization({ kubeProxy: { iptables: {} } })));
});
