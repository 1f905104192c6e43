/**
 * Kubernetes versions offered. Clients ask for a minor (`1.33`, OVH's VersionEnum); clusters
 * report the full `MAJOR.MINOR.PATCH` (the Terraform provider panics on anything shorter).
 */
export const OFFERED_VERSIONS: Readonly<Record<string, string>> = Object.freeze({
  '1.31': '1.31.14',
  '1.32': '1.32.10',
  '1.33': '1.33.6',
  '1.34': '1.34.2',
  '1.35': '1.35.0',
});

export const OFFERED_MINORS: readonly string[] = Object.freeze(Object.keys(OFFERED_VERSIONS));
export const NEWEST_MINOR: string = OFFERED_MINORS[OFFERED_MINORS.length - 1]!;

/** The full version for a requested minor (or full version), or undefined when not offered. */
export function resolveVersion(requested: string): string | undefined {
  const minor = /^(\d+\.\d+)(?:\.\d+)?$/.exec(requested)?.[1];
  if (minor === undefined) return undefined;
  const full = OFFERED_VERSIONS[minor];
  return requested === minor || requested === full ? full : undefined;
}

export function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

export const UPDATE_STRATEGIES = ['LATEST_PATCH', 'NEXT_MINOR'] as const;
export type UpdateStrategy = (typeof UPDATE_STRATEGIES)[number];

/**
 * The version `POST /update` moves a cluster on `version` to with `strategy`, or why it cannot:
 * NEXT_MINOR to the newest patch of the next minor offered, LATEST_PATCH to its own minor's newest.
 */
export function upgradeTarget(
  version: string,
  strategy: UpdateStrategy,
): { version: string } | { refused: string } {
  const minor = minorOf(version);
  if (strategy === 'LATEST_PATCH') {
    const latest = OFFERED_VERSIONS[minor];
    if (latest === undefined) return { refused: `version ${minor} is no longer offered` };
    if (latest === version) {
      return { refused: `the cluster already runs ${version}, the latest patch of ${minor}` };
    }
    return { version: latest };
  }
  const [next] = nextUpgradeVersions(version);
  if (next === undefined) {
    return {
      refused: `the cluster runs ${minor}, the newest minor offered (${OFFERED_MINORS.join(', ')}): there is no next minor`,
    };
  }
  return { version: OFFERED_VERSIONS[next]! };
}

/** Whether the cluster runs the newest patch of its minor. */
export function isLatestPatch(version: string): boolean {
  return OFFERED_VERSIONS[minorOf(version)] === version;
}

/** Minors a cluster may upgrade to: the next one, as OVH lists it. */
export function nextUpgradeVersions(version: string): string[] {
  const index = OFFERED_MINORS.indexOf(minorOf(version));
  const next = index === -1 ? undefined : OFFERED_MINORS[index + 1];
  return next === undefined ? [] : [next];
}
