/** pino, configured once. Secrets never reach logs: the OVH auth headers are redacted. */
import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';

export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: {
      paths: [
        'req.headers["x-ovh-signature"]',
        'req.headers["x-ovh-consumer"]',
        'req.headers["x-ovh-application"]',
        'req.headers.authorization',
        '*.applicationSecret',
        '*.consumerKey',
        '*.token',
      ],
      censor: '[redacted]',
    },
  });
}
