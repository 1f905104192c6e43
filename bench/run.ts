/**
 * `npm run bench`: runs the benchmark sections, prints one table, writes .bench/results.json.
 *
 * Every server under test and the load generator (autocannon) run in their own processes. The
 * reference is a bare Fastify hello route measured in the same run with the same logging as mks
 * in production (pino at info, no per-request log line). Targets are reported, not enforced: the
 * exit code is 0 whatever the figures, and non-zero only when the harness itself broke.
 *
 * To add a section: write `bench/<name>.ts` exporting `(context) => Promise<Row[]>` and list it in
 * SECTIONS.
 */
import { build } from '../scripts/build.js';
import { runApi } from './api.ts';
import { runFleet } from './fleet.ts';
import { runFleetWorkers } from './fleet-workers.ts';
import { BenchContext, type Row } from './lib/context.ts';
import { type BenchOptions, parseOptions, USAGE } from './lib/options.ts';
import { stopPostgres } from './lib/postgres.ts';
import { environmentLine, formatFleetTable, formatProfiles, formatTable, writeJson } from './lib/report.ts';

interface Section {
  readonly name: string;
  readonly description: string;
  readonly run: (context: BenchContext) => Promise<Row[]>;
}

const SECTIONS: readonly Section[] = [
  {
    name: 'api',
    description: 'signed GET and PUT customization vs the bare Fastify hello route',
    run: runApi,
  },
  {
    name: 'fleet',
    description: 'N emulated clusters change customization at once: time until all are READY again',
    run: runFleet,
  },
  {
    name: 'workers',
    description: 'the fleet on PostgreSQL with 1 and with 2 `mks worker` processes: the scaling ratio',
    run: runFleetWorkers,
  },
];

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const unknown = options.only?.filter((name) => !SECTIONS.some((section) => section.name === name)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(
      `--only: unknown section(s) ${unknown.join(', ')} (known: ${SECTIONS.map((s) => s.name).join(', ')})\n`,
    );
    process.exit(2);
  }
  const sections = SECTIONS.filter(
    (section) => options.only === undefined || options.only.includes(section.name),
  );

  process.stderr.write(`mks benchmark — ${environmentLine(options)}\n`);
  // `mks worker` processes (the workers section) run bin/mks.js as users do: the current build.
  await build();
  const context = await BenchContext.create(options);
  const rows: Row[] = [];
  try {
    for (const section of sections) {
      process.stderr.write(`section ${section.name}: ${section.description}\n`);
      rows.push(...(await section.run(context)));
    }
    await context.stopHello();
    const hello = context.helloRow();
    if (hello !== undefined) rows.unshift(hello);
  } finally {
    await context.close();
    await stopPostgres();
  }

  const out = process.stdout;
  out.write(`\nmks benchmark — ${environmentLine(options)}\n`);
  out.write(
    'Logging as in production: pino at info; mks and the hello baseline both use ' +
      'LogController({ disableRequestLogging: true }), so neither logs a line per request.\n' +
      "The API cases run mks as `mks serve --no-worker` (API only): the rollouts each PUT triggers are the fleet figure's subject.\n" +
      'rps counts 2xx answers with the expected body; a case with any other answer is FAILED. ' +
      'µs CPU/req: server CPU time (all its threads) per answered request. vs hello CPU, the judged figure: ' +
      "hello's µs CPU/req ÷ the case's, hello measured just before the case, in each of --rounds rounds, the median round's figures shown; " +
      "vs hello rps: rps ÷ that hello's rps (column hello; " +
      'it depends on how much of the shared cores the load generator took). ' +
      'srv/gen CPU: server and load generator CPU time over the window (100 % = one core).\n\n',
  );
  const isFleet = (row: Row) =>
    row.fleet !== undefined || row.section === 'fleet' || row.section === 'workers';
  const loadRows = rows.filter((row) => !isFleet(row));
  const fleetRows = rows.filter(isFleet);
  if (loadRows.length > 0) out.write(`${formatTable(loadRows)}\n`);
  if (fleetRows.length > 0) out.write(`\n${formatFleetTable(fleetRows)}\n`);
  const profiles = formatProfiles(rows);
  if (profiles !== '') out.write(`\n${profiles}`);
  const file = writeJson(options.json, options, rows);
  out.write(`\nResults: ${file}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: the harness failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
