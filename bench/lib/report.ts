/** The printed table, the profile summaries, and the JSON written to .bench/results.json. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuMicrosPerRequest, type Row } from './context.ts';
import type { BenchOptions } from './options.ts';

export function formatTable(rows: readonly Row[]): string {
  const header = [
    'case',
    'db',
    'rps',
    'p50 ms',
    'p99 ms',
    'hello',
    'µs CPU/req',
    'vs hello CPU',
    'vs hello rps',
    'target',
    'result',
    'srv CPU',
    'gen CPU',
  ];
  const lines = rows.map((row) => {
    const m = row.measurement;
    return [
      row.name,
      row.dialect ?? '-',
      m === undefined ? '-' : m.rps.toFixed(0),
      m === undefined ? '-' : m.p50.toFixed(2),
      m === undefined ? '-' : m.p99.toFixed(2),
      row.helloRps === undefined ? '-' : row.helloRps.toFixed(0),
      m === undefined ? '-' : cpuMicrosPerRequest(m).toFixed(1),
      row.ratio === undefined ? '-' : `${(row.ratio * 100).toFixed(1)} %`,
      row.rpsRatio === undefined ? '-' : `${(row.rpsRatio * 100).toFixed(1)} %`,
      row.target === undefined ? '-' : `≥ ${(row.target * 100).toFixed(0)} %`,
      row.verdict,
      m === undefined ? '-' : `${(m.serverCpu * 100).toFixed(0)} %`,
      m === undefined ? '-' : `${(m.loaderCpu * 100).toFixed(0)} %`,
    ];
  });
  return renderTable(header, lines, new Set([2, 3, 4, 5, 6, 7, 8, 11, 12]), rows).join('\n');
}

/** The fleet rows (section fleet): seconds until the fleet is READY again, against a target in seconds. */
export function formatFleetTable(rows: readonly Row[]): string {
  const header = [
    'case',
    'db',
    'seconds',
    'clusters/s',
    'peak RSS',
    'settled RSS',
    'RSS/1k idle',
    'srv CPU',
    'creation s',
    'target',
    'result',
  ];
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
  const lines = rows.map((row) => {
    const f = row.fleet;
    return [
      row.name,
      row.dialect ?? '-',
      f === undefined ? '-' : f.seconds.toFixed(2),
      f === undefined ? '-' : f.clustersPerSecond.toFixed(0),
      f === undefined ? '-' : mib(f.peakRssBytes),
      f === undefined ? '-' : mib(f.settledRssBytes),
      f === undefined ? '-' : mib(f.rssPerThousandIdleBytes),
      f === undefined ? '-' : `${(f.cpu * 100).toFixed(0)} %`,
      f === undefined ? '-' : f.createSeconds.toFixed(1),
      row.target === undefined ? '-' : `≤ ${row.target.toFixed(row.target < 10 ? 1 : 0)} s`,
      row.verdict,
    ];
  });
  return [
    'Fleet: seconds from the first change until every cluster changed is READY with the new ' +
      'generation observed (pods start at once; creation, through the API too, is timed separately; ' +
      'clusters/s counts the clusters changed); peak RSS and CPU of the server process over that ' +
      'window; its RSS once the created fleet settled, and that less its RSS before the first ' +
      'cluster, per 1,000 clusters. Targets (issue 17): 3 s per 1,000 clusters changed, peak ≤ 500 ' +
      'MiB for a change of 1,000, settled ≤ 400 MiB with 10,000 clusters.',
    '',
    ...renderTable(header, lines, new Set([2, 3, 4, 5, 6, 7, 8]), rows),
  ].join('\n');
}

/**
 * A text table: the header, a rule, one line per row (the `numeric` columns right-aligned), then
 * the rows' notes if any.
 */
function renderTable(
  header: readonly string[],
  lines: readonly (readonly string[])[],
  numeric: ReadonlySet<number>,
  rows: readonly Row[],
): string[] {
  const all = [header, ...lines];
  const widths = header.map((_, column) => Math.max(...all.map((line) => line[column]!.length)));
  const format = (line: readonly string[]) =>
    line
      .map((cell, column) =>
        numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '─'.repeat(width)).join('  ');
  const notes = rows.filter((row) => row.note !== undefined).map((row) => `  ${rowTitle(row)}: ${row.note}`);
  return [format(header), rule, ...lines.map(format), ...(notes.length > 0 ? ['', 'Notes:', ...notes] : [])];
}

/** A row's case and, when it has one, its database: `put [postgres]`. */
const rowTitle = (row: Row): string => `${row.name}${row.dialect === undefined ? '' : ` [${row.dialect}]`}`;

export function formatProfiles(rows: readonly Row[]): string {
  const parts: string[] = [];
  for (const row of rows) {
    const profile = row.profile;
    if (profile === undefined) continue;
    const title = rowTitle(row);
    const scope = profile.windowed ? 'measured window' : 'whole process';
    parts.push(
      `CPU profile — ${title} (${scope}, ${profile.busyMs.toFixed(0)} ms busy; ${path.relative(process.cwd(), profile.file)})`,
      '  self time by origin:',
      ...profile.origins.slice(0, 10).map((entry) => `    ${pct(entry.share)}  ${entry.name}`),
      '  top functions by self time:',
      ...profile.functions.map((entry) => `    ${pct(entry.share)}  ${entry.name}`),
      '',
    );
  }
  return parts.join('\n');
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1).padStart(5)} %`;
}

export function environmentLine(options: BenchOptions): string {
  const cpus = os.cpus();
  return [
    `node ${process.version}, ${os.availableParallelism()} CPU (${cpus[0]?.model.trim() ?? 'unknown'})`,
    `${options.connections} connections, pipelining ${options.pipelining}, ${options.warmup} s warm-up + ${options.duration} s measured per case`,
    options.pin ? 'servers pinned to CPU 0, load generator to CPU 1' : 'no CPU pinning',
  ].join('; ');
}

export function writeJson(file: string, options: BenchOptions, rows: readonly Row[]): string {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const document = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim(),
    options,
    rows: rows.map((row) => ({
      ...row,
      profile:
        row.profile === undefined
          ? undefined
          : { ...row.profile, file: path.relative(process.cwd(), row.profile.file) },
    })),
  };
  fs.writeFileSync(target, `${JSON.stringify(document, null, 2)}\n`);
  return target;
}
