/**
 * Go's `time.ParseDuration`, as the real kube-proxy runs it on every duration of `config.conf`
 * (metav1.Duration's JSON decoding hands the string to it). The emulator keeps its own copy, apart
 * from the product's parser (src/customization/duration.ts), so that a bug in the product's
 * renderer and parser cannot cancel itself out in the emulated cluster: this one answers to the
 * recorded behaviour of the real kube-proxy (test/fixtures/kube-proxy-config-corpus.json).
 *
 * Followed step by step from Go's source (src/time/format.go: ParseDuration, leadingInt,
 * leadingFraction, quote), on uint64 arithmetic held in bigint.
 */

/** `time.ParseDuration`'s error, with Go's own text. */
export class GoDurationError extends Error {}

const ONE_63 = 1n << 63n;

/** Nanoseconds per unit; `µs` is accepted as MICRO SIGN (U+00B5) and GREEK SMALL LETTER MU (U+03BC). */
const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n],
  ['\u03bcs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const digit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Go's `time.quote`: printable ASCII as is (`"` and `\` escaped), every byte of any other
 * character as `\xNN` (lower-case hex of its UTF-8 encoding).
 */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || code >= 0x80) {
      for (const byte of Buffer.from(char, 'utf8')) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    } else if (char === '"' || char === '\\') {
      out += `\\${char}`;
    } else {
      out += char;
    }
  }
  return `${out}"`;
}

/** Nanoseconds of a Go duration (`1h30m`, `-1.5s`, `300ms`); throws `GoDurationError` as Go errs. */
export function parseGoDuration(original: string): bigint {
  const invalid = () => new GoDurationError(`time: invalid duration ${goQuote(original)}`);
  let s = original;
  let total = 0n;
  let negative = false;
  // [-+]?
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  // Special case: "0" alone (no unit needed).
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  while (s !== '') {
    // The next character must be [0-9.].
    if (!(s[0] === '.' || digit(s[0]))) throw invalid();

    // leadingInt: [0-9]*, an error once the value passes 1<<63.
    let i = 0;
    let whole = 0n;
    for (; digit(s[i]); i++) {
      if (whole > ONE_63 / 10n) throw invalid();
      whole = whole * 10n + BigInt(Number(s[i]));
      if (whole > ONE_63) throw invalid();
    }
    const sawWhole = i > 0;
    s = s.slice(i);

    // (\.[0-9]*)? — leadingFraction stops accumulating on overflow but consumes every digit.
    let fraction = 0n;
    let scale = 1;
    let sawFraction = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflowed = false;
      for (; digit(s[j]); j++) {
        if (overflowed) continue;
        if (fraction > (ONE_63 - 1n) / 10n) {
          overflowed = true;
          continue;
        }
        const next = fraction * 10n + BigInt(Number(s[j]));
        if (next > ONE_63) {
          overflowed = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      sawFraction = j > 0;
      s = s.slice(j);
    }
    // No digits at all (".s", "-.s").
    if (!sawWhole && !sawFraction) throw invalid();

    // The unit: everything up to the next [0-9.].
    let k = 0;
    while (k < s.length && !(s[k] === '.' || digit(s[k]))) k++;
    if (k === 0) throw new GoDurationError(`time: missing unit in duration ${goQuote(original)}`);
    const name = s.slice(0, k);
    s = s.slice(k);
    const unit = UNITS.get(name);
    if (unit === undefined)
      throw new GoDurationError(`time: unknown unit ${goQuote(name)} in duration ${goQuote(original)}`);

    if (whole > ONE_63 / unit) throw invalid();
    let value = whole * unit;
    if (fraction > 0n) {
      // float64 on purpose, as Go computes it: that is where Go rounds sub-unit fractions.
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > ONE_63) throw invalid();
    }
    total += value;
    if (total > ONE_63) throw invalid();
  }
  if (negative) return -total;
  if (total > ONE_63 - 1n) throw invalid();
  return total;
}
