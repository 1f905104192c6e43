/**
 * How results are printed on stdout: `table` for people (the default on a terminal), `json` for
 * scripts (the default when piped), `yaml`, or ids only with `--quiet`. Nothing else goes to
 * stdout, so `mks … -o json | jq` always parses.
 */
import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface Printable {
  /** What json and yaml print. */
  readonly data: unknown;
  /** What `--quiet` prints, one per line. */
  readonly ids: readonly string[];
  /** What `table` prints. */
  readonly table: () => string;
}

export function render(value: Printable, format: OutputFormat, quiet: boolean): string {
  if (quiet) return value.ids.length === 0 ? '' : `${value.ids.join('\n')}\n`;
  switch (format) {
    case 'json':
      return `${JSON.stringify(value.data, null, 2)}\n`;
    case 'yaml':
      return stringify(value.data);
    case 'table': {
      const text = value.table();
      return text === '' || text.endsWith('\n') ? text : `${text}\n`;
    }
  }
}

/** Columns padded to their widest cell, headers in capitals (kubectl's look). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('   ')
      .trimEnd();
  return [line(headers.map((header) => header.toUpperCase())), ...rows.map(line)].join('\n');
}

/** `Label:  value` lines for one object (gcloud's describe look). */
export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 1;
  return pairs.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${value}`).join('\n');
}

/**
 * Leaf values of a nested object as `a.b.c` paths (arrays as comma-separated lists, `[]` when
 * empty), in the object's own order: how customizations are shown and compared.
 */
export function flatten(value: unknown, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      out.set(path, node.length === 0 ? '[]' : node.map(String).join(','));
    } else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) walk(child, path === '' ? key : `${path}.${key}`);
    } else if (node !== null && node !== undefined) {
      out.set(path, String(node));
    }
  };
  walk(value, prefix);
  return out;
}
