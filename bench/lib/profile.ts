/**
 * Reads a V8 `.cpuprofile` and summarizes where the CPU went during the measured window: top
 * functions by self time, and self time per origin (mks source file, npm package, Node internals,
 * GC). Idle time is left out of the shares.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_DIR } from './child.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  readonly name: string;
  readonly share: number;
  readonly ms: number;
}

export interface ProfileSummary {
  readonly file: string;
  /** Whether the samples could be restricted to the measured window (else: whole process). */
  readonly windowed: boolean;
  readonly busyMs: number;
  readonly functions: readonly ProfileEntry[];
  readonly origins: readonly ProfileEntry[];
}

/** `window` is in microseconds of the monotonic clock (process.hrtime), like V8's timestamps. */
export function summarizeProfile(
  file: string,
  window: { start: number; end: number } | undefined,
  top = 15,
): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfTime = new Map<number, number>();
  let time = profile.startTime;
  let inWindow = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    const duration = profile.timeDeltas[i + 1] ?? 0;
    if (window !== undefined && (time < window.start || time > window.end)) continue;
    inWindow++;
    const id = profile.samples[i]!;
    selfTime.set(id, (selfTime.get(id) ?? 0) + duration);
  }
  // Clocks did not line up: fall back to the whole process.
  if (window !== undefined && inWindow === 0) return summarizeProfile(file, undefined, top);

  const functions = new Map<string, number>();
  const origins = new Map<string, number>();
  let busy = 0;
  for (const [id, micros] of selfTime) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    busy += micros;
    const where = shortUrl(url);
    // tsx-compiled sources report line 0 (no source map applied): name the file only.
    const line = lineNumber > 0 ? `:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'}${where === '' ? '' : ` ${where}${line}`}`;
    functions.set(name, (functions.get(name) ?? 0) + micros);
    const origin = originOf(functionName, url);
    origins.set(origin, (origins.get(origin) ?? 0) + micros);
  }
  const entries = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({ name, ms: micros / 1000, share: busy === 0 ? 0 : micros / busy }));
  return {
    file,
    windowed: window !== undefined,
    busyMs: busy / 1000,
    functions: entries(functions),
    origins: entries(origins),
  };
}

function shortUrl(url: string): string {
  if (url === '') return '';
  let text = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  if (text.startsWith(REPO_DIR)) text = path.relative(REPO_DIR, text);
  return text.replace(/^.*node_modules\//, '');
}

function originOf(functionName: string, url: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module !== null) return module[1]!;
  const text = shortUrl(url);
  return text.startsWith('src/') ? text : `other: ${text}`;
}
