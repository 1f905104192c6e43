import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DurationError, formatGoDuration, parseGoDuration, parseIsoDuration } from './duration.ts';

const S = 1_000_000_000n;
const MAX = (1n << 63n) - 1n;

const goError = (message: string) => (error: unknown) =>
  error instanceof DurationError && error.message === message;

// spec/kube-proxy.md §3.1, "Verified results (Go time package)".
const GO_ACCEPTED: [input: string, ns: bigint, canonical: string][] = [
  ['1s', S, '1s'],
  ['90s', 90n * S, '1m30s'],
  ['1m30s', 90n * S, '1m30s'],
  ['1.5m', 90n * S, '1m30s'],
  ['0s', 0n, '0s'],
  ['0', 0n, '0s'],
  ['500ms', 500_000_000n, '500ms'],
  ['0.5s', 500_000_000n, '500ms'],
  ['.5s', 500_000_000n, '500ms'],
  ['1.5s', 1_500_000_000n, '1.5s'],
  ['24h', 86_400n * S, '24h0m0s'],
  ['168h', 604_800n * S, '168h0m0s'],
  ['1h1h', 7_200n * S, '2h0m0s'],
  ['+1s', S, '1s'],
  ['-1s', -S, '-1s'],
  ['1.0000000001s', S, '1s'],
  ['2562047h47m16.854775807s', MAX, '2562047h47m16.854775807s'],
];

for (const [input, ns, canonical] of GO_ACCEPTED) {
  test(`Go parses ${JSON.stringify(input)} to ${ns} ns, printed as ${canonical}`, () => {
    assert.equal(parseGoDuration(input), ns);
    assert.equal(formatGoDuration(ns), canonical);
  });
}

const GO_REFUSED: [input: string, message: string][] = [
  ['2562047h47m16.854775808s', 'time: invalid duration "2562047h47m16.854775808s"'],
  ['2562048h', 'time: invalid duration "2562048h"'],
  ['', 'time: invalid duration ""'],
  ['1d', 'time: unknown unit "d" in duration "1d"'],
  ['1S', 'time: unknown unit "S" in duration "1S"'],
  ['30', 'time: missing unit in duration "30"'],
  ['1e3s', 'time: unknown unit "e" in duration "1e3s"'],
  ['1 s', 'time: unknown unit " s" in duration "1 s"'],
  ['1m 30s', 'time: unknown unit "m " in duration "1m 30s"'],
  ['PT30S', 'time: invalid duration "PT30S"'],
  ['-', 'time: invalid duration "-"'],
  ['.s', 'time: invalid duration ".s"'],
  ['3µx', 'time: unknown unit "\\xc2\\xb5x" in duration "3\\xc2\\xb5x"'],
];

for (const [input, message] of GO_REFUSED) {
  test(`Go refuses ${JSON.stringify(input)} with ${message}`, () => {
    assert.throws(() => parseGoDuration(input), goError(message));
  });
}

test('Go reads "1." as a number, so a later bare number is a missing unit', () => {
  assert.throws(() => parseGoDuration('1.s5'), goError('time: missing unit in duration "1.s5"'));
});

test('Go accepts every spelling of microseconds', () => {
  for (const unit of ['us', 'µs', 'μs']) assert.equal(parseGoDuration(`3${unit}`), 3_000n);
});

test('Go accepts the most negative duration but not one nanosecond more', () => {
  assert.equal(parseGoDuration('-9223372036854775808ns'), -(1n << 63n));
  assert.throws(
    () => parseGoDuration('-9223372036854775809ns'),
    goError('time: invalid duration "-9223372036854775809ns"'),
  );
  assert.throws(
    () => parseGoDuration('9223372036854775808ns'),
    goError('time: invalid duration "9223372036854775808ns"'),
  );
});

test('Go truncates fractions finer than a nanosecond and keeps reading their digits', () => {
  assert.equal(parseGoDuration('0.0000000019s'), 1n);
  assert.equal(parseGoDuration('1.00000000000000000000000000001s'), S);
  assert.equal(parseGoDuration('1.5h'), 5_400n * S);
});

test('formatting uses integer ms or ns below one second, never µs', () => {
  assert.equal(formatGoDuration(1n), '1ns');
  assert.equal(formatGoDuration(1_500n), '1500ns');
  assert.equal(formatGoDuration(2_000_000n), '2ms');
  assert.equal(formatGoDuration(999_999_999n), '999999999ns');
  assert.equal(formatGoDuration(3_630n * S), '1h0m30s');
  assert.equal(formatGoDuration(60n * S), '1m0s');
  assert.equal(formatGoDuration(90n * S + 1n), '1m30.000000001s');
});

// spec/kube-proxy.md §3.2 table.
const ISO_ACCEPTED: [input: string, ns: bigint, go: string][] = [
  ['PT1S', S, '1s'],
  ['PT30S', 30n * S, '30s'],
  ['PT90S', 90n * S, '1m30s'],
  ['PT1M30S', 90n * S, '1m30s'],
  ['PT1H30S', 3_630n * S, '1h0m30s'],
  ['PT0S', 0n, '0s'],
  ['PT0.5S', 500_000_000n, '500ms'],
  ['PT0,5S', 500_000_000n, '500ms'],
  ['PT1.5M', 90n * S, '1m30s'],
  ['PT36H', 129_600n * S, '36h0m0s'],
  ['P1DT12H', 129_600n * S, '36h0m0s'],
  ['P1D', 86_400n * S, '24h0m0s'],
  ['P1W', 604_800n * S, '168h0m0s'],
  ['P1.5D', 129_600n * S, '36h0m0s'],
  ['PT0.000000001S', 1n, '1ns'],
  ['PT9223372036.854775807S', MAX, '2562047h47m16.854775807s'],
  ['PT60S', 60n * S, '1m0s'],
];

for (const [input, ns, go] of ISO_ACCEPTED) {
  test(`ISO ${input} is ${ns} ns, written ${go} for kube-proxy`, () => {
    assert.equal(parseIsoDuration(input), ns);
    assert.equal(formatGoDuration(parseIsoDuration(input)), go);
    assert.equal(parseGoDuration(go), ns);
  });
}

const ISO_REFUSED: [input: string, reason: RegExp][] = [
  ['P1W2D', /weeks \(W\) cannot be combined/],
  ['P1M', /months and years have no fixed length; use days \(D\), weeks \(W\) or time units/],
  ['P1Y', /months and years/],
  ['P0Y', /months and years/],
  ['P1DT1M1Y', /designator Y is not allowed after T|months and years/],
  ['P', /at least one component/],
  ['PT', /at least one component/],
  ['P1DT', /T must be followed/],
  ['', /empty/],
  ['PT1', /expected a number followed by a designator/],
  ['P1', /expected a number followed by a designator/],
  ['-PT1S', /signs are not allowed/],
  ['PT-1S', /signs are not allowed/],
  ['+PT1S', /signs are not allowed/],
  ['PT0.0000000001S', /finer than one nanosecond/],
  ['PT9223372037S', /maximum of 9223372036854775807 ns/],
  ['PT9223372036.854775808S', /maximum/],
  ['pt1s', /upper case/],
  ['PT1s', /upper case/],
  [' PT1S', /spaces/],
  ['PT1S ', /spaces/],
  ['PT1 S', /spaces/],
  ['P0000-00-01T00:00:00', /expected a number/],
  ['PT1.5M30S', /only the last component may have a decimal fraction/],
  ['PT30S1M', /out of order/],
  ['PT1S1S', /out of order/],
  ['P1H', /designator H is not allowed before T/],
  ['PT1D', /designator D is not allowed after T/],
  ['PT1TS', /designator T is not allowed/],
  ['PT.5S', /expected a number/],
  ['PT5.S', /expected a number/],
  ['1S', /must start with P/],
  ['30s', /upper case/],
];

for (const [input, reason] of ISO_REFUSED) {
  test(`ISO ${JSON.stringify(input)} is refused with a reason`, () => {
    assert.throws(
      () => parseIsoDuration(input),
      (error: unknown) => error instanceof DurationError && reason.test(error.message),
    );
  });
}

test('parsed durations are remembered, refusals are not: the same text answers the same each time', () => {
  for (let round = 0; round < 3; round++) {
    assert.equal(parseIsoDuration('PT1M30.5S'), 90_500_000_000n);
    assert.throws(() => parseIsoDuration('PT30s'), /upper case/);
    // Longer than the texts remembered (64 characters): parsed each time, same answer.
    assert.equal(parseIsoDuration(`PT1.${'0'.repeat(80)}S`), 1_000_000_000n);
  }
});

test('any duration Go prints parses back to the same nanoseconds', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: MAX }), (ns) => parseGoDuration(formatGoDuration(ns)) === ns),
    { numRuns: 2_000 },
  );
});

test('small and round durations round-trip through the Go form too', () => {
  const round = fc.oneof(
    fc.bigInt({ min: 0n, max: 10n * S }),
    fc.bigInt({ min: 0n, max: 1_000_000n }).map((n) => n * S),
    fc.bigInt({ min: 0n, max: 10_000n }).map((n) => n * 1_000_000n),
  );
  fc.assert(fc.property(round, (ns) => parseGoDuration(formatGoDuration(ns)) === ns));
});

test('ISO strings built from random components parse to the expected nanoseconds', () => {
  const digits = fc.bigInt({ min: 0n, max: 100_000n });
  const fraction = fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined });
  const component = fc.record({ whole: digits, fraction });
  const arbitrary = fc
    .record({
      week: fc.option(component, { nil: undefined }),
      day: fc.option(component, { nil: undefined }),
      hour: fc.option(component, { nil: undefined }),
      minute: fc.option(component, { nil: undefined }),
      second: fc.option(component, { nil: undefined }),
      comma: fc.boolean(),
    })
    .filter((r) => [r.week, r.day, r.hour, r.minute, r.second].some((c) => c !== undefined));

  fc.assert(
    fc.property(arbitrary, (r) => {
      const units: [string, bigint, { whole: bigint; fraction: string | undefined } | undefined][] = r.week
        ? [['W', 604_800n * S, r.week]]
        : [
            ['D', 86_400n * S, r.day],
            ['H', 3_600n * S, r.hour],
            ['M', 60n * S, r.minute],
            ['S', S, r.second],
          ];
      const present = units.filter((u) => u[2] !== undefined);
      let date = '';
      let time = '';
      let expected = 0n;
      let exact = true;
      present.forEach(([designator, unit, c], i) => {
        const last = i === present.length - 1;
        const frac = last && designator === 'S' ? c!.fraction : undefined;
        let text = `${c!.whole}`;
        expected += c!.whole * unit;
        if (frac !== undefined) {
          text += `${r.comma ? ',' : '.'}${frac}`;
          const scaled = BigInt(frac) * unit;
          const divisor = 10n ** BigInt(frac.length);
          exact = scaled % divisor === 0n;
          expected += scaled / divisor;
        }
        if (designator === 'W' || designator === 'D') date += `${text}${designator}`;
        else time += `${text}${designator}`;
      });
      const iso = `P${date}${time === '' ? '' : `T${time}`}`;
      assert.ok(exact, 'seconds fractions of up to 9 digits are always whole nanoseconds');
      if (expected > MAX) {
        assert.throws(() => parseIsoDuration(iso), /maximum/, iso);
        return;
      }
      assert.equal(parseIsoDuration(iso), expected, iso);
      assert.equal(parseGoDuration(formatGoDuration(expected)), expected);
    }),
    { numRuns: 1_000 },
  );
});

test('a fraction on days or hours must come out to whole nanoseconds', () => {
  assert.equal(parseIsoDuration('PT0.5H'), 1_800n * S);
  assert.equal(parseIsoDuration('P0,25D'), 21_600n * S);
  assert.equal(parseIsoDuration('PT1.0000000001H'), 3_600n * S + 360n);
  assert.throws(() => parseIsoDuration('PT1.000000000001H'), DurationError);
});
