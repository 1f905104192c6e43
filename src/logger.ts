/**
 * pino, configured once. Secrets never reach logs: the OVH auth headers are redacted. On a
 * terminal the lines are made readable (time, level, message, then the fields); anywhere else they
 * stay JSON, one object per line, for log collectors.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';

export function createLogger(
  level: Config['logLevel'],
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'req.headers["x-ovh-signature"]',
          'req.headers["x-ovh-consumer"]',
          'req.headers["x-ovh-application"]',
          'req.headers.authorization',
          // Top level and one level down (pino's `*` matches one key, not none).
          'applicationSecret',
          'consumerKey',
          'token',
          '*.applicationSecret',
          '*.consumerKey',
          '*.token',
        ],
        censor: '[redacted]',
      },
    },
    out.isTTY === true ? readable(out) : (out as DestinationStream),
  );
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Writes each JSON line pino produces as a line for people. */
function readable(out: NodeJS.WritableStream): DestinationStream {
  return { write: (line: string) => out.write(readableLine(line)) };
}

/** `12:34:56.789 INFO  Applied kube-proxy ConfigMap clusterId=… configHash=…`, an error's stack below. */
export function readableLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, pid: _pid, hostname: _hostname, err, ...fields } = record;
  const when = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const name = (LEVELS[level as number] ?? String(level)).padEnd(5);
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const error = err as { message?: string; stack?: string } | undefined;
  const stack =
    error === undefined ? '' : `\n  ${(error.stack ?? error.message ?? '').split('\n').join('\n  ')}`;
  return `${when} ${name} ${typeof msg === 'string' ? msg : ''}${rest === '' ? '' : ` ${rest}`}${stack}\n`;
}
