import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { nameThisThread } from './thread-name.ts';

const LINUX = fs.existsSync('/proc/thread-self/comm');

describe('nameThisThread', () => {
  it('sets the calling thread’s name as /proc shows it, cut to 15 bytes', {
    skip: !LINUX && 'no /proc',
  }, () => {
    const comm = '/proc/thread-self/comm';
    const before = fs.readFileSync(comm, 'utf8').trim();
    try {
      assert.equal(nameThisThread('mks-test-thread-name'), true);
      assert.equal(fs.readFileSync(comm, 'utf8').trim(), 'mks-test-thread');
      // The thread's entry read through its id, as `top -H` and the bench read it, says the same.
      const tid = fs.readlinkSync('/proc/thread-self').split('/').at(-1);
      assert.equal(fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), 'mks-test-thread');
    } finally {
      nameThisThread(before);
    }
    assert.equal(fs.readFileSync(comm, 'utf8').trim(), before);
  });
});
