/**
 * Finds OVH credentials the way OVH's tools do, first match wins per field: flags, `OVH_*`
 * environment variables, then `./ovh.conf`, `~/.ovh.conf`, `/etc/ovh.conf` and finally the file
 * mks writes in its data directory.
 */
import os from 'node:os';
import path from 'node:path';
import { type OvhCredentials, readOvhConf } from '../client/ovh-conf.ts';

export interface CredentialFlags {
  endpoint?: string | undefined;
  applicationKey?: string | undefined;
  applicationSecret?: string | undefined;
  consumerKey?: string | undefined;
}

const FIELDS = ['endpoint', 'applicationKey', 'applicationSecret', 'consumerKey'] as const;
const ENV: Record<(typeof FIELDS)[number], string> = {
  endpoint: 'OVH_ENDPOINT',
  applicationKey: 'OVH_APPLICATION_KEY',
  applicationSecret: 'OVH_APPLICATION_SECRET',
  consumerKey: 'OVH_CONSUMER_KEY',
};

export interface ResolvedCredentials {
  credentials: OvhCredentials;
  /** Where each field came from (e.g. `flag`, `env`, a file path). */
  sources: Record<(typeof FIELDS)[number], string>;
}

export function resolveCredentials(
  flags: CredentialFlags,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedCredentials {
  const files = [
    path.resolve('ovh.conf'),
    path.join(os.homedir(), '.ovh.conf'),
    '/etc/ovh.conf',
    path.join(dataDir, 'ovh.conf'),
  ];
  const found: Partial<OvhCredentials> = {};
  const sources: Partial<Record<(typeof FIELDS)[number], string>> = {};
  const take = (values: Partial<OvhCredentials>, source: string) => {
    for (const field of FIELDS) {
      const value = values[field];
      if (found[field] === undefined && value !== undefined && value !== '') {
        found[field] = value;
        sources[field] = source;
      }
    }
  };
  take(flags, 'flag');
  take(Object.fromEntries(FIELDS.map((field) => [field, env[ENV[field]]])), 'env');
  for (const file of files) {
    const values = readOvhConf(file);
    if (values !== undefined) take(values, file);
  }
  const missing = FIELDS.filter((field) => found[field] === undefined);
  if (missing.length > 0) {
    throw new Error(
      `No ${missing.map((field) => ENV[field]).join(', ')} found: pass --${missing.map(kebab).join(', --')}, set the OVH_* variables, ` +
        `or start mks once (it writes ${path.join(dataDir, 'ovh.conf')})`,
    );
  }
  return { credentials: found as OvhCredentials, sources: sources as ResolvedCredentials['sources'] };
}

function kebab(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
