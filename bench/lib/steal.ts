/**
 * Time this virtual machine's cores were ready to run and the hypervisor ran something else:
 * /proc/stat's `steal` column, summed over the cores. On a shared host it moves the figures from
 * one window to the next (the fleet's slowest reading of the twenty-second round had 16 % of the
 * cores' time stolen over its change, the others 0–5 %), and nothing inside the process sees it:
 * the benches print it beside each window so a slow reading can be told from a slow change
 * (docs/performance.md, "Twenty-second round").
 */
import fs from 'node:fs';
import os from 'node:os';
import { CLOCK_TICKS_PER_SECOND } from './thread-cpu.ts';

/**
 * The machine's CPU time so far, summed over its cores, in USER_HZ ticks: /proc/stat's first line,
 * "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; undefined without /proc
 * or with a text not of that form.
 */
export function machineCpuTicks(stat = readStat()): number[] | undefined {
  if (stat === undefined) return undefined;
  const [label, ...fields] = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/);
  if (label !== 'cpu' || fields.length < 8) return undefined;
  return fields.map(Number);
}

/** The machine's stolen time so far, in seconds (all cores); NaN without /proc. */
export function stolenSeconds(stat?: string): number {
  const ticks = machineCpuTicks(stat);
  return ticks === undefined ? Number.NaN : ticks[7]! / CLOCK_TICKS_PER_SECOND;
}

/**
 * The machine's idle time so far, in seconds (all cores): /proc/stat's `idle` and `iowait`, the
 * time no thread of any process was ready to run on a core; NaN without /proc. Beside a thread's
 * wait for a core (`schedstat`), it tells a saturated machine from one whose idle core the
 * waiting thread was not given (docs/performance.md, "Twenty-third round").
 */
export function idleSeconds(stat?: string): number {
  const ticks = machineCpuTicks(stat);
  return ticks === undefined ? Number.NaN : (ticks[3]! + ticks[4]!) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Time between two readings (`stolenSeconds`, `idleSeconds`) as a share of the machine's cores'
 * time over `wallSeconds`: every online core, as /proc/stat sums them (not
 * `availableParallelism()`, which a CPU affinity such as `--pin`'s narrows).
 */
export function coresShare(
  before: number,
  after: number,
  wallSeconds: number,
  cores = os.cpus().length,
): number {
  return (after - before) / (wallSeconds * cores);
}

function readStat(): string | undefined {
  try {
    return fs.readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
}
