/**
 * A thread's CPU time, apart from the process's (`process.cpuUsage()` counts every thread):
 * /proc/self/task/<tid>/stat's utime and stime, in clock ticks of 10 ms (USER_HZ, 100 on every
 * Linux build node supports). What the benches print as a thread's share ("main", the reconciler
 * thread's), to tell work moved to another thread from work saved.
 */
import fs from 'node:fs';

/** USER_HZ: 100 on every Linux build node supports. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a /proc/…/stat text, in seconds. */
export function cpuSecondsOfStat(stat: string): number {
  // The fields after the command (which may hold spaces), from the third: utime is the 14th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds of thread `tid` of this process (the main thread's id is the pid); throws without /proc. */
export function threadCpuSeconds(tid: number | 'thread-self' = process.pid): number {
  const file = tid === 'thread-self' ? '/proc/thread-self/stat' : `/proc/self/task/${tid}/stat`;
  return cpuSecondsOfStat(fs.readFileSync(file, 'utf8'));
}

/** The main thread's CPU time in µs; NaN where /proc is not there. */
export function mainThreadCpuMicros(): number {
  try {
    return threadCpuSeconds() * 1e6;
  } catch {
    return Number.NaN;
  }
}
