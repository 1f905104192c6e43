/**
 * The only reader of environment variables and command-line options. Everything else receives the
 * frozen `Config` it returns. A flag and its environment variable share a name
 * (`--data-dir` ⇔ `MKS_DATA_DIR`); flags win. Every bad value is reported at once.
 */
import path from 'node:path';

export interface Config {
  /** Where the embedded default keeps its SQLite file, secret key and ovh.conf. */
  readonly dataDir: string;
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * The API's public base URL, ending in `/1.0` (what clients are configured with and sign).
   * Defaults to `http://<listen>/1.0`.
   */
  readonly publicUrl: string;
  /** `postgres://…` for scale-out; otherwise SQLite at `<dataDir>/mks.db`. */
  readonly database:
    | { readonly kind: 'sqlite'; readonly file: string }
    | { readonly kind: 'postgres'; readonly url: string };
  /** Base64 of a 32-byte key encrypting application secrets; default: `<dataDir>/secret.key`. */
  readonly secretKey: string | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Regions offered to `POST /kube`. */
  readonly regions: readonly string[];
  /** How far a request's `X-Ovh-Timestamp` may be from the server clock. */
  readonly timestampWindowSeconds: number;
  /** Largest accepted request body. */
  readonly bodyLimitBytes: number;
}

export const DEFAULT_REGIONS = Object.freeze([
  'GRA5',
  'GRA7',
  'GRA9',
  'GRA11',
  'SBG5',
  'BHS5',
  'DE1',
  'UK1',
  'WAW1',
]);

/** Options as commander hands them over (camelCase of the long flag). */
export interface ConfigOptions {
  dataDir?: string | undefined;
  listen?: string | undefined;
  publicUrl?: string | undefined;
  databaseUrl?: string | undefined;
  logLevel?: string | undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function loadConfig(options: ConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const pick = (flag: keyof ConfigOptions, variable: string): string | undefined => {
    const value = options[flag] ?? env[variable];
    return value === undefined || value === '' ? undefined : value;
  };

  const dataDir = path.resolve(pick('dataDir', 'MKS_DATA_DIR') ?? '.mks');

  const listenText = pick('listen', 'MKS_LISTEN') ?? '127.0.0.1:8080';
  const listen = parseListen(listenText);
  if (listen === undefined)
    problems.push(`--listen / MKS_LISTEN: '${listenText}' is not HOST:PORT (e.g. 127.0.0.1:8080)`);

  let publicUrl = pick('publicUrl', 'MKS_PUBLIC_URL');
  if (publicUrl === undefined && listen !== undefined) {
    const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
    publicUrl = `http://${host.includes(':') ? `[${host}]` : host}:${listen.port}/1.0`;
  }
  if (publicUrl !== undefined) {
    publicUrl = publicUrl.replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+\/1\.0$/.test(publicUrl)) {
      problems.push(`--public-url / MKS_PUBLIC_URL: '${publicUrl}' must be http(s)://HOST[:PORT]/1.0`);
    }
  }

  const databaseUrl = pick('databaseUrl', 'MKS_DATABASE_URL');
  let database: Config['database'] = { kind: 'sqlite', file: path.join(dataDir, 'mks.db') };
  if (databaseUrl !== undefined) {
    if (/^postgres(ql)?:\/\//.test(databaseUrl)) database = { kind: 'postgres', url: databaseUrl };
    else if (databaseUrl.startsWith('sqlite:')) {
      database = {
        kind: 'sqlite',
        file: path.resolve(databaseUrl.slice('sqlite:'.length).replace(/^\/\//, '')),
      };
    } else problems.push('--database-url / MKS_DATABASE_URL: expected postgres://… or sqlite:PATH');
  }

  const secretKey = env.MKS_SECRET_KEY === '' ? undefined : env.MKS_SECRET_KEY;
  if (secretKey !== undefined && Buffer.from(secretKey, 'base64').length !== 32) {
    problems.push('MKS_SECRET_KEY: must be the base64 encoding of exactly 32 bytes');
  }

  const logLevel = pick('logLevel', 'MKS_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`--log-level / MKS_LOG_LEVEL: '${logLevel}' is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const regionsText = env.MKS_REGIONS;
  const regions =
    regionsText === undefined || regionsText === ''
      ? DEFAULT_REGIONS
      : regionsText.split(',').map((region) => region.trim());
  if (regions.some((region) => !/^[A-Z][A-Z0-9-]{1,31}$/.test(region))) {
    problems.push(
      `MKS_REGIONS: '${regionsText}' must be a comma-separated list of region names such as GRA11`,
    );
  }

  const windowText = env.MKS_TIMESTAMP_WINDOW_SECONDS ?? '180';
  const timestampWindowSeconds = Number(windowText);
  if (!Number.isInteger(timestampWindowSeconds) || timestampWindowSeconds < 1) {
    problems.push(`MKS_TIMESTAMP_WINDOW_SECONDS: '${windowText}' must be a positive whole number`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    dataDir,
    listen: Object.freeze(listen!),
    publicUrl: publicUrl!,
    database: Object.freeze(database),
    secretKey,
    logLevel: logLevel as Config['logLevel'],
    regions: Object.freeze([...regions]),
    timestampWindowSeconds,
    bodyLimitBytes: 64 * 1024,
  });
}

function parseListen(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}
