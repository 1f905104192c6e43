/**
 * CPU time the hypervisor gave to others while this machine's cores wanted it: /proc/stat's
 * `steal` column, summed over the cores. On a shared virtual machine it is what moves the figures
 * hour to hour (the same commit read 5.1 and 9.1 s on the fleet ten minutes apart), and nothing in
 * the process sees it: the benches print it beside each window so a slow reading can be told
 * from a slow change (docs/performance.md, "Twenty-second round").
 */
import fs from 'node:fs';
import os from 'node:os';

/** USER_HZ: 100 on every Linux build node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The machine's stolen time so far, in seconds (all cores); NaN without /proc. */
export function stolenSeconds(stat = readStat()): number {
  if (stat === undefined) return Number.NaN;
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice": the first line sums the cores.
  const fields = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/);
  if (fields[0] !== 'cpu' || fields.length < 9) return Number.NaN;
  return Number(fields[8]) / CLOCK_TICKS_PER_SECOND;
}

/** Stolen time between two readings as a share of the machine's cores' time over `wallSeconds`. */
export function stolenShare(
  before: number,
  after: number,
  wallSeconds: number,
  cores = os.availableParallelism(),
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
