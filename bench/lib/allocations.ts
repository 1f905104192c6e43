/**
 * What a stretch of a bench allocates, sampled by V8's heap profiler (collected objects included):
 * a figure the machine's load does not move, unlike CPU time (docs/performance.md). Start it on a
 * connected inspector session, stop it with the number of units of work done meanwhile.
 */

import fs from 'node:fs';
import type { HeapProfiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import path from 'node:path';

/**
 * `survivors`: only what outlived a scavenge (objects a minor GC collected are dropped from the
 * profile): what the young generation copied and promoted, which full collections then mark.
 */
export async function startAllocationSampling(
  session: Session,
  samplingInterval = 4096,
  survivors = false,
): Promise<void> {
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !survivors,
  });
}

/** The bytes a sampling heap profile counted, all its nodes together. */
export function sampledBytes(profile: HeapProfiler.SamplingHeapProfile): number {
  let bytes = 0;
  const walk = (node: HeapProfiler.SamplingHeapProfileNode): void => {
    bytes += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return bytes;
}

/**
 * What an emulator bench measures over its rounds after the first, on a session it connects:
 * a CPU profile (`profileFile`), sampled allocations (`allocations`). `start` before the rounds;
 * `stop` after them writes the profile and prints the KiB allocated per `unit` (`printAllocations`).
 */
export function roundsMeasurement(options: {
  profileFile: string | undefined;
  allocations: boolean;
  /** Sample only what outlives a scavenge (`startAllocationSampling`'s `survivors`). */
  survivors?: boolean;
}) {
  const allocations = options.allocations || options.survivors === true;
  if (options.profileFile === undefined && !allocations) return undefined;
  const session = new Session();
  return {
    async start(): Promise<void> {
      session.connect();
      if (options.profileFile !== undefined) {
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
      }
      if (allocations) await startAllocationSampling(session, 4096, options.survivors === true);
    },
    async stop(units: number, unit: string, what: string): Promise<void> {
      if (options.profileFile !== undefined) {
        const { profile } = await session.post('Profiler.stop');
        fs.writeFileSync(options.profileFile, JSON.stringify(profile));
      }
      if (allocations)
        await printAllocations(
          session,
          units,
          unit,
          options.survivors === true ? `${what}, outliving a scavenge` : what,
        );
      session.disconnect();
    },
  };
}

/**
 * Stops the sampling and prints the KiB allocated per `unit` (`what` says over which rounds) and the
 * 25 functions that allocated most (self, KiB per unit).
 */
export async function printAllocations(
  session: Session,
  units: number,
  unit: string,
  what: string,
): Promise<void> {
  const { profile } = await session.post('HeapProfiler.stopSampling');
  let bytes = 0;
  const byFunction = new Map<string, number>();
  const frame = (node: typeof profile.head): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'} ${path.basename(url)}:${lineNumber + 1}`;
  };
  // A builtin (no script: `set`, `keys`, `sort`, …) is named with the function that called it.
  const walk = (node: typeof profile.head, caller: string): void => {
    bytes += node.selfSize;
    const where = node.callFrame.url === '' ? `${frame(node)} ← ${caller}` : frame(node);
    byFunction.set(where, (byFunction.get(where) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, where);
  };
  walk(profile.head, '(root)');
  process.stdout.write(
    `allocated (${what}, sampled): ${(bytes / units / 1024).toFixed(0)} KiB per ${unit}\n`,
  );
  for (const [where, size] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 25))
    process.stdout.write(`  ${(size / units / 1024).toFixed(1).padStart(6)} KiB  ${where}\n`);
}
