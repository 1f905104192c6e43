/**
 * Names the calling thread as `top -H`, `ps -L` and /proc show it: its `comm`, 15 bytes at most,
 * on Linux. Node leaves its worker threads named after the process (`node`), like V8's helper
 * threads, so an operator (and `npm run bench`'s CPU by thread) could not tell the reconciler
 * thread from a garbage collector's helper. Best effort: elsewhere, or where /proc refuses, the
 * name stays what it was.
 */
import fs from 'node:fs';

export function nameThisThread(name: string): boolean {
  try {
    fs.writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
    return true;
  } catch {
    return false;
  }
}
