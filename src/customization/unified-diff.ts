/**
 * A unified diff (`diff -u` format) of two small texts, line by line. Config files are a few dozen
 * lines, so the longest common subsequence is computed directly (quadratic, no heuristics): the
 * same inputs always give the same hunks.
 */

type Edit = { readonly op: ' ' | '-' | '+'; readonly line: string };

function lines(text: string): string[] {
  if (text === '') return [];
  const split = text.split('\n');
  // A final newline ends the last line; it does not start another one.
  if (split[split.length - 1] === '') split.pop();
  return split;
}

function edits(a: readonly string[], b: readonly string[]): Edit[] {
  // common[i][j]: the length of the longest common subsequence of a[i..] and b[j..].
  const common = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i]![j] =
        a[i] === b[j] ? common[i + 1]![j + 1]! + 1 : Math.max(common[i + 1]![j]!, common[i]![j + 1]!);
    }
  }
  const out: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push({ op: ' ', line: a[i]! });
      i++;
      j++;
    } else if (j >= b.length || (i < a.length && common[i + 1]![j]! >= common[i]![j + 1]!)) {
      out.push({ op: '-', line: a[i]! });
      i++;
    } else {
      out.push({ op: '+', line: b[j]! });
      j++;
    }
  }
  return out;
}

/** `diff -u`'s range: `start,count`, the start 0 for an empty range, `,count` left out for one line. */
function range(start: number, count: number): string {
  if (count === 0) return `${start - 1},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}

/** The unified diff of `before` and `after` with `context` lines around changes; '' when equal. */
export function unifiedDiff(
  before: string,
  after: string,
  labels: { readonly before: string; readonly after: string },
  context = 3,
): string {
  if (before === after) return '';
  const all = edits(lines(before), lines(after));
  const changed = all.flatMap((edit, index) => (edit.op === ' ' ? [] : [index]));
  if (changed.length === 0) return ''; // Only a missing final newline differs.
  const out = [`--- ${labels.before}`, `+++ ${labels.after}`];
  // Changes closer than 2 × context lines share a hunk (their contexts would overlap or touch).
  const hunks: Array<[first: number, last: number]> = [];
  for (const index of changed) {
    const open = hunks[hunks.length - 1];
    if (open !== undefined && index - open[1] <= 2 * context) open[1] = index;
    else hunks.push([index, index]);
  }
  for (const [first, last] of hunks) {
    const from = Math.max(0, first - context);
    const to = Math.min(all.length, last + context + 1);
    let beforeLine = 1;
    let afterLine = 1;
    for (const edit of all.slice(0, from)) {
      if (edit.op !== '+') beforeLine++;
      if (edit.op !== '-') afterLine++;
    }
    const hunk = all.slice(from, to);
    const beforeCount = hunk.filter((edit) => edit.op !== '+').length;
    const afterCount = hunk.filter((edit) => edit.op !== '-').length;
    out.push(`@@ -${range(beforeLine, beforeCount)} +${range(afterLine, afterCount)} @@`);
    for (const edit of hunk) out.push(`${edit.op}${edit.line}`);
  }
  return `${out.join('\n')}\n`;
}
