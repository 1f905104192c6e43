import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './logger.ts';

/** A stream that keeps what is written, a terminal or not. */
function capture(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return Object.assign(stream, { isTTY, text: () => chunks.join('') });
}

test('on a terminal, log lines are for people: time, level, message, fields, the error stack below', () => {
  const out = capture(true);
  const log = createLogger('info', out);
  log.info({ clusterId: 'c1', generation: 2 }, 'Applied kube-proxy ConfigMap');
  log.warn({ err: new Error('boom'), token: 'secret-token' }, 'Reconcile failed');
  const [first, second, stack] = out.text().split('\n');
  assert.match(
    first!,
    /^\d\d:\d\d:\d\d\.\d{3} INFO {2}Applied kube-proxy ConfigMap clusterId=c1 generation=2$/,
  );
  assert.match(second!, /^\d\d:\d\d:\d\d\.\d{3} WARN {2}Reconcile failed token=\[redacted\]$/);
  assert.match(stack!, /^ {2}Error: boom$/);
  assert.doesNotMatch(out.text(), /secret-token/);
});

test('anywhere else, log lines stay JSON, one object per line', () => {
  const out = capture(false);
  createLogger('info', out).info({ clusterId: 'c1' }, 'Cluster is ready');
  const record = JSON.parse(out.text()) as Record<string, unknown>;
  assert.equal(record.msg, 'Cluster is ready');
  assert.equal(record.clusterId, 'c1');
  assert.equal(record.level, 30);
});
