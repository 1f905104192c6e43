/**
 * go-ovh's INI format (`ovh.conf`), read by go-ovh, the Terraform provider and the OVH CLIs:
 *   [default]
 *   endpoint=http://127.0.0.1:8080/1.0
 *   [http://127.0.0.1:8080/1.0]
 *   application_key=…
 *   application_secret=…
 *   consumer_key=…
 */
import fs from 'node:fs';

export type IniSections = Record<string, Record<string, string>>;

export function parseIni(text: string): IniSections {
  const sections: IniSections = {};
  let current: Record<string, string> | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section !== null) {
      const name = section[1]!.trim();
      sections[name] ??= {};
      current = sections[name];
      continue;
    }
    const equals = line.indexOf('=');
    if (equals === -1 || current === undefined) continue;
    current[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
  }
  return sections;
}

export interface OvhCredentials {
  endpoint: string;
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
}

/** Credentials found in an ovh.conf file for its default endpoint, if any field is there. */
export function credentialsFromIni(sections: IniSections): Partial<OvhCredentials> {
  const endpoint = sections.default?.endpoint;
  const section = (endpoint === undefined ? undefined : sections[endpoint]) ?? {};
  const found: Partial<OvhCredentials> = {};
  if (endpoint !== undefined) found.endpoint = endpoint;
  const key = section.application_key ?? sections.default?.application_key;
  const secret = section.application_secret ?? sections.default?.application_secret;
  const consumer = section.consumer_key ?? sections.default?.consumer_key;
  if (key !== undefined) found.applicationKey = key;
  if (secret !== undefined) found.applicationSecret = secret;
  if (consumer !== undefined) found.consumerKey = consumer;
  return found;
}

export function readOvhConf(file: string): Partial<OvhCredentials> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return credentialsFromIni(parseIni(text));
}

export function writeOvhConf(file: string, credentials: OvhCredentials): void {
  const text = [
    '; Written by mks. Read by go-ovh, the OVH Terraform provider, the OVH CLIs and `mks`.',
    '[default]',
    `endpoint=${credentials.endpoint}`,
    '',
    `[${credentials.endpoint}]`,
    `application_key=${credentials.applicationKey}`,
    `application_secret=${credentials.applicationSecret}`,
    `consumer_key=${credentials.consumerKey}`,
    '',
  ].join('\n');
  fs.writeFileSync(file, text, { mode: 0o600 });
  // writeFileSync keeps the mode of an existing file: make sure it is private.
  fs.chmodSync(file, 0o600);
}
