/**
 * The main thread's CPU time, beside the process's (`process.cpuUsage()` counts every thread):
 * /proc/self/task/<pid>/stat's utime and stime, in clock ticks of 10 ms (USER_HZ, 100 on every
 * Linux build node supports); NaN where /proc is not there. What the emulator benches print as
 * "main", to tell work moved to another thread from work saved.
 */
import fs from 'node:fs';

export function mainThreadCpuMicros(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // The fields after the command (which may hold spaces), from the third: utime is the 14th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}
