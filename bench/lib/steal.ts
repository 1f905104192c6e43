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

/** The machine's stolen and idle time so far, in seconds (all cores). */
export interface MachineSeconds {
  /** `steal`: the cores ready to run while the hypervisor ran something else. */
  readonly stolen: number;
  /**
   * `idle` and `iowait`: no thread of any process ready to run on a core. Beside a thread's wait
   * for a core (`schedstat`), it tells a saturated machine from one whose idle core the waiting
   * thread was not given (docs/performance.md, "Twenty-third round").
   */
  readonly idle: number;
}

/** Both of one /proc/stat reading (one instant, one read); NaN each without /proc. */
export function machineSeconds(stat?: string): MachineSeconds {
  const ticks = machineCpuTicks(stat);
  if (ticks === undefined) return { stolen: Number.NaN, idle: Number.NaN };
  return {
    stolen: ticks[7]! / CLOCK_TICKS_PER_SECOND,
    idle: (ticks[3]! + ticks[4]!) / CLOCK_TICKS_PER_SECOND,
  };
}

/**
 * Time between two readings (`machineSeconds`) as a share of the machine's cores' time over
 * `wallSeconds`: every online core, as /proc/stat sums them (not `availableParallelism()`, which a
 * CPU affinity such as `--pin`'s narrows).
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
