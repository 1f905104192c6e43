/**
 * Durations on both sides of the customization: OVH's API speaks ISO 8601 (`PT30S`), kube-proxy's
 * `config.conf` speaks Go (`30s`, via metav1.Duration → time.ParseDuration / Duration.String()).
 * Everything is counted in nanoseconds as bigint so no value is rounded on the way through
 * (spec/kube-proxy.md §3).
 */

import { BoundedMap } from '../bounded-map.ts';

/** A duration that cannot be accepted; the message is a human reason (or Go's own error text). */
export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_MINUTE = 60n * NS_PER_SECOND;
const NS_PER_HOUR = 60n * NS_PER_MINUTE;

/** Go's time.Duration is an int64 of nanoseconds. */
const MAX_DURATION_NS = (1n << 63n) - 1n;

const ISO_UNIT_NS: Readonly<Record<string, bigint>> = Object.freeze({
  // Days and weeks are taken as exactly 24 h and 168 h: kube-proxy's timers measure elapsed time,
  // so calendar effects (DST) do not apply.
  W: 168n * NS_PER_HOUR,
  D: 24n * NS_PER_HOUR,
  H: NS_PER_HOUR,
  M: NS_PER_MINUTE,
  S: NS_PER_SECOND,
});

/** Designators in the only order ISO 8601 allows them; `T` splits date from time. */
const DATE_ORDER = ['W', 'D'];
const TIME_ORDER = ['H', 'M', 'S'];

const COMPONENT = /^(\d+)(?:[.,](\d+))?([A-Za-z])/;

/**
 * Durations parsed, by text: a customization PUT validates its durations on every request, and a
 * fleet uses few distinct ones (docs/performance.md). Only accepted texts, and only short ones (a
 * valid duration may carry any number of trailing zeros in its fraction), are remembered.
 */
const PARSED = new BoundedMap<string, bigint>(1024);
const MAX_REMEMBERED_LENGTH = 64;

/**
 * Parses an ISO 8601 duration into nanoseconds, with the strict rules of spec/kube-proxy.md §3.2:
 * `PnW` alone, or `PnD` and/or `T` with `nH`, `nM`, `nS`; a decimal fraction (`.` or `,`) only on
 * the last component; no sign, no years or months, no sub-nanosecond remainder, no value Go's
 * int64 nanoseconds cannot hold.
 */
export function parseIsoDuration(text: string): bigint {
  let ns = PARSED.get(text);
  if (ns === undefined) {
    ns = parseIsoDurationText(text);
    if (text.length <= MAX_REMEMBERED_LENGTH) PARSED.set(text, ns);
  }
  return ns;
}

function parseIsoDurationText(text: string): bigint {
  if (typeof text !== 'string' || text === '') throw new DurationError('empty duration');
  if (/\s/.test(text)) throw new DurationError('spaces are not allowed');
  if (/^[+-]|[PTWDHMS][+-]/.test(text)) {
    throw new DurationError('signs are not allowed: durations cannot be negative');
  }
  if (/[a-z]/.test(text)) throw new DurationError('designators must be upper case (e.g. PT30S)');
  if (text[0] !== 'P') throw new DurationError('must start with P (e.g. PT30S)');

  let rest = text.slice(1);
  let inTime = false;
  let sawTime = false;
  let lastIndex = -1;
  const components: { designator: string; whole: string; fraction: string | undefined }[] = [];
  while (rest !== '') {
    if (rest[0] === 'T') {
      if (inTime) throw new DurationError('T appears more than once');
      inTime = true;
      lastIndex = -1;
      rest = rest.slice(1);
      continue;
    }
    const match = COMPONENT.exec(rest);
    if (match === null) {
      throw new DurationError('expected a number followed by a designator (W, D, H, M or S)');
    }
    const [matched, digits, fraction, designator] = match as unknown as [
      string,
      string,
      string | undefined,
      string,
    ];
    if (designator === 'Y' || (designator === 'M' && !inTime)) {
      throw new DurationError('months and years have no fixed length; use days (D), weeks (W) or time units');
    }
    const order = inTime ? TIME_ORDER : DATE_ORDER;
    const index = order.indexOf(designator);
    if (index === -1) {
      const where = inTime ? 'after T (use H, M or S)' : 'before T (use W or D; H, M, S need a T first)';
      throw new DurationError(`designator ${designator} is not allowed ${where}`);
    }
    if (index <= lastIndex) throw new DurationError('components are repeated or out of order');
    if (components.at(-1)?.fraction !== undefined) {
      throw new DurationError('only the last component may have a decimal fraction');
    }
    lastIndex = index;
    sawTime ||= inTime;
    components.push({ designator, whole: digits, fraction });
    rest = rest.slice(matched.length);
  }
  if (components.length === 0) throw new DurationError('at least one component is needed (e.g. PT30S)');
  if (inTime && !sawTime) throw new DurationError('T must be followed by at least one of H, M or S');
  if (components.length > 1 && components.some((c) => c.designator === 'W')) {
    throw new DurationError('weeks (W) cannot be combined with other components; use days (D)');
  }

  let total = 0n;
  for (const { designator, whole, fraction } of components) {
    const unit = ISO_UNIT_NS[designator]!;
    total += BigInt(whole) * unit;
    if (fraction !== undefined) {
      const scaled = BigInt(fraction) * unit;
      const divisor = 10n ** BigInt(fraction.length);
      // Go would silently truncate; refusing tells the user their value is not what runs.
      if (scaled % divisor !== 0n) throw new DurationError('the fraction is finer than one nanosecond');
      total += scaled / divisor;
    }
  }
  if (total > MAX_DURATION_NS) {
    throw new DurationError('longer than the maximum of 9223372036854775807 ns (about 292 years)');
  }
  return total;
}

/**
 * Formats nanoseconds the way Go's Duration.String() does for one second and more (`1m30s`,
 * `24h0m0s`, `1.5s`), which is what kubeadm and kube-proxy write back, so diffs stay stable.
 * Below one second Go would switch to fractional `ms`/`µs`; integer `ms` or `ns` is used instead
 * to keep the file ASCII (spec/kube-proxy.md §3.1) while still parsing back to the same value.
 */
export function formatGoDuration(ns: bigint): string {
  if (ns < 0n) return `-${formatGoDuration(-ns)}`;
  if (ns === 0n) return '0s';
  if (ns < NS_PER_SECOND) return ns % 1_000_000n === 0n ? `${ns / 1_000_000n}ms` : `${ns}ns`;

  const fraction = (ns % NS_PER_SECOND).toString().padStart(9, '0').replace(/0+$/, '');
  const seconds = `${(ns / NS_PER_SECOND) % 60n}${fraction === '' ? '' : `.${fraction}`}s`;
  const totalMinutes = ns / NS_PER_MINUTE;
  if (totalMinutes === 0n) return seconds;
  const minutes = `${totalMinutes % 60n}m${seconds}`;
  // Go stops at hours: days are not a fixed length in its world.
  const hours = totalMinutes / 60n;
  return hours === 0n ? minutes : `${hours}h${minutes}`;
}

const GO_UNIT_NS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n], // U+00B5 MICRO SIGN
  ['μs', 1_000n], // U+03BC GREEK SMALL LETTER MU
  ['ms', 1_000_000n],
  ['s', NS_PER_SECOND],
  ['m', NS_PER_MINUTE],
  ['h', NS_PER_HOUR],
]);

const TWO_63 = 1n << 63n;
const HEX = '0123456789abcdef';
const utf8 = new TextEncoder();

/** Go's time.quote: ASCII printable as is (with `"` and `\` escaped), everything else as \x bytes. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x80 || code < 0x20) {
      for (const byte of utf8.encode(ch)) out += `\\x${HEX[byte >> 4]}${HEX[byte & 0xf]}`;
    } else {
      out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
    }
  }
  return `${out}"`;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Go's time.ParseDuration, reproduced rule for rule (Go 1.19+ source), including its error texts,
 * so the emulated kube-proxy accepts and refuses exactly what the real one does.
 */
export function parseGoDuration(text: string): bigint {
  const invalid = (): DurationError => new DurationError(`time: invalid duration ${goQuote(text)}`);
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();

  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid();

    let i = 0;
    let whole = 0n;
    while (isDigit(s[i])) {
      if (whole > TWO_63 / 10n) throw invalid();
      whole = whole * 10n + BigInt(s.charCodeAt(i) - 48);
      if (whole > TWO_63) throw invalid();
      i++;
    }
    const sawWhole = i > 0;
    s = s.slice(i);

    // Go keeps the fraction as an integer plus a float64 scale and stops accumulating digits once
    // the integer would overflow; the digits are still consumed.
    let fraction = 0n;
    let scale = 1;
    let sawFraction = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      while (isDigit(s[j])) {
        if (!overflow) {
          if (fraction > (TWO_63 - 1n) / 10n) {
            overflow = true;
          } else {
            const next = fraction * 10n + BigInt(s.charCodeAt(j) - 48);
            if (next > TWO_63) overflow = true;
            else {
              fraction = next;
              scale *= 10;
            }
          }
        }
        j++;
      }
      sawFraction = j > 0;
      s = s.slice(j);
    }
    if (!sawWhole && !sawFraction) throw invalid();

    let k = 0;
    while (k < s.length && !(s[k] === '.' || isDigit(s[k]))) k++;
    if (k === 0) throw new DurationError(`time: missing unit in duration ${goQuote(text)}`);
    const unitName = s.slice(0, k);
    s = s.slice(k);
    const unit = GO_UNIT_NS.get(unitName);
    if (unit === undefined) {
      throw new DurationError(`time: unknown unit ${goQuote(unitName)} in duration ${goQuote(text)}`);
    }

    if (whole > TWO_63 / unit) throw invalid();
    let value = whole * unit;
    if (fraction > 0n) {
      // Deliberately float64, as in Go: this is where Go truncates (`1.0000000001s` is 1s), and
      // matching it bit for bit is the point of this function.
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > TWO_63) throw invalid();
    }
    total += value;
    if (total > TWO_63) throw invalid();
  }
  if (negative) return -total;
  if (total > TWO_63 - 1n) throw invalid();
  return total;
}
