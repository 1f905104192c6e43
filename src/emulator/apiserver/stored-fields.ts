/**
 * Where the fieldsV1 trees of a stored object are in its text. An object's stored text is the JSON
 * `jsonOf` wrote (objects.ts: `JSON.stringify`'s text, no white space); its managedFields' trees
 * are a sixth to two fifths of it, the part with the most members to parse, and they repeat: a
 * fleet's nodes, DaemonSets and namespaces share one tree per field manager, a cluster's daemon
 * pods theirs. `parseJson` parses them once by their text and shares them (docs/performance.md,
 * "Sixteenth round").
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The start and end (exclusive) of every `"fieldsV1":{…}` object in `text`, in order, as pairs in
 * one array: empty when there is none (or when it is written otherwise than `JSON.stringify`
 * writes it, with white space: the caller then parses the text whole). Undefined when one does
 * not end. The member name is found as written, with its closing quote: inside a JSON string
 * that quote would be escaped, so each one found is a member's name; whether it is a
 * managedFields entry's is for the caller to check (`parseJson` does, on the object it parses).
 */
export function fieldsV1Ranges(text: string): number[] | undefined {
  const ranges: number[] = [];
  // Searched by its tail: `indexOf` looks for a pattern's first character first, and a quote is
  // the most frequent character of a JSON text (from the head, a search of a 2.2 KB text cost
  // 0.5–0.6 µs against 0.2–0.3).
  let at = text.indexOf(TAIL);
  while (at >= 0) {
    const start = at + TAIL.length - 1;
    if (text.startsWith(HEAD, at - HEAD.length)) {
      const end = valueEnd(text, start);
      if (end < 0) return undefined;
      ranges.push(start, end);
      at = end;
    } else at = start;
    at = text.indexOf(TAIL, at);
  }
  return ranges;
}

const HEAD = '"fields';
const TAIL = 'V1":{';

/**
 * The index after the object or array whose `{` or `[` is at `at`, or -1. Strings are skipped
 * from quote to quote (`indexOf`), a quote preceded by backslashes ending one when they are even.
 */
function valueEnd(text: string, at: number): number {
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = text.indexOf('"', i + 1);
      while (i > 0 && text.charCodeAt(i - 1) === BACKSLASH && escaped(text, i)) i = text.indexOf('"', i + 1);
      if (i < 0) return -1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Whether the quote at `quote` is escaped: an odd number of backslashes before it. */
function escaped(text: string, quote: number): boolean {
  let slashes = 0;
  while (text.charCodeAt(quote - 1 - slashes) === BACKSLASH) slashes++;
  return slashes % 2 === 1;
}
