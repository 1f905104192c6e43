/**
 * Error messages quote what was rejected, but only a short excerpt of it: a hostile client must
 * not get its megabyte echoed back, nor fill the logs with it.
 */

/** Longest part of a rejected value quoted back in an error message. */
const EXCERPT_LENGTH = 64;

/** A short, printable excerpt of a value for an error message (its JSON form, cut with `…`). */
export function excerpt(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Cycles or BigInts: say what it is rather than fail while reporting another failure.
    text = Object.prototype.toString.call(value);
  }
  return clip(text);
}

/** `text` cut to a short excerpt (with `…`) for an error message. */
export function clip(text: string): string {
  return text.length <= EXCERPT_LENGTH ? text : `${text.slice(0, EXCERPT_LENGTH)}…`;
}
