import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { lazyChildLogger } from './lazy-logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'info', redact: { paths: ['headers.secret'], censor: '[redacted]' } }, stream);
  return { lines, logger: logger as unknown as FastifyBaseLogger };
}

test('a request logger binds its query id on the lines it writes, and only those at an enabled level', async () => {
  const { lines, logger } = capture();
  const child = lazyChildLogger(logger, { queryId: 'q-1' }, {});
  child.debug('not written');
  assert.equal(child.level, 'info');
  child.info({ headers: { secret: 's3cret' } }, 'refused');
  child.error(new Error('boom'), 'failed');
  child.child({ part: 'x' }).warn('nested');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    lines.map((line) => [line.msg, line.queryId]),
    [
      ['refused', 'q-1'],
      ['failed', 'q-1'],
      ['nested', 'q-1'],
    ],
  );
  assert.deepEqual(lines[0]!.headers, { secret: '[redacted]' }, "the parent's redaction applies");
  assert.equal(lines[2]!.part, 'x');
});
