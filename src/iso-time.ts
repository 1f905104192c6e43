/**
 * `date.toISOString()` for clocks read often: V8's formatting costs about 0.5 µs, a cluster change
 * stamps its record and history row with it, and changes come many per second. The text up to
 * the second is kept from the last call; only the milliseconds are formatted again
 * (docs/performance.md).
 */
let second = Number.NaN;
let prefix = '';

/** The same text as `date.toISOString()` (and the same RangeError for an invalid date). */
export function isoText(date: Date): string {
  const ms = date.getTime();
  const within = ((ms % 1000) + 1000) % 1000;
  const start = ms - within;
  if (start !== second) {
    const text = date.toISOString();
    // `…T06:20:00.` without `123Z`.
    prefix = text.slice(0, -4);
    second = start;
  }
  return `${prefix}${within < 10 ? '00' : within < 100 ? '0' : ''}${within}Z`;
}
