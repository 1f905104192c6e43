/** Kubeconfig files as `mks cluster kubeconfig` writes them: the file name, and merging as kubectl would. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { usageError } from './cli-context.ts';

export interface KubeconfigFile {
  apiVersion?: string;
  kind?: string;
  clusters?: { name: string }[];
  contexts?: { name: string }[];
  users?: { name: string }[];
  'current-context'?: string;
  [key: string]: unknown;
}

export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/** kubectl's own choice: the first file of $KUBECONFIG, else ~/.kube/config. */
export function defaultKubeconfig(): string {
  const first = process.env.KUBECONFIG?.split(path.delimiter).find((entry) => entry !== '');
  return first ?? path.join(os.homedir(), '.kube', 'config');
}

/** Adds or replaces (by name) the cluster, user and context, and makes the context current. */
export function mergeKubeconfig(file: string, incoming: KubeconfigFile): void {
  let existing: KubeconfigFile = {};
  if (fs.existsSync(file)) {
    const parsed = parse(fs.readFileSync(file, 'utf8')) as KubeconfigFile | null;
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw usageError(`${file} is not a kubeconfig`);
    }
    existing = parsed ?? {};
  }
  const merge = <T extends { name: string }>(current: T[] | undefined, added: T[] | undefined): T[] => {
    const names = new Set((added ?? []).map((entry) => entry.name));
    return [...(current ?? []).filter((entry) => !names.has(entry.name)), ...(added ?? [])];
  };
  const merged: KubeconfigFile = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    ...existing,
    clusters: merge(existing.clusters, incoming.clusters),
    users: merge(existing.users, incoming.users),
    contexts: merge(existing.contexts, incoming.contexts),
    ...(incoming['current-context'] === undefined ? {} : { 'current-context': incoming['current-context'] }),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, stringify(merged), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}
