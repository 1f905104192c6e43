import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coresShare, machineCpuTicks, machineSeconds } from '../../bench/lib/steal.ts';

const STAT = `cpu  108883 53 33238 138455 680 0 11703 9826 0 0
cpu0 44527 21 13356 66176 146 0 3892 2769 0 0
cpu1 49916 32 14238 59462 426 0 4288 2488 0 0
intr 1 2 3
`;

test('the stolen time is the summed cpu line’s eighth figure, in seconds of USER_HZ ticks', () => {
  assert.equal(machineSeconds(STAT).stolen, 98.26);
});

test('the idle time is the summed cpu line’s idle and iowait figures, in seconds', () => {
  // 138455 idle + 680 iowait ticks of 10 ms.
  assert.equal(machineSeconds(STAT).idle, 1391.35);
  assert.ok(Number.isNaN(machineSeconds('cpu  1 2 3\n').idle));
});

test('the summed cpu line is read as its ticks, in /proc/stat order', () => {
  assert.deepEqual(machineCpuTicks(STAT), [108883, 53, 33238, 138455, 680, 0, 11703, 9826, 0, 0]);
  assert.equal(machineCpuTicks('cpu0 1 2 3 4 5 6 7 8 9 10\n'), undefined);
});

test('a stat text without the summed cpu line reads as not known, not as zero', () => {
  assert.ok(Number.isNaN(machineSeconds('cpu0 1 2 3 4 5 6 7 8 9 10\n').stolen));
  assert.ok(Number.isNaN(machineSeconds('cpu  1 2 3\n').stolen));
});

test('the share divides by every core’s time over the window', () => {
  // 3 s stolen over a 10 s window of a 2-core machine: 15 % of what the machine could run.
  assert.ok(Math.abs(coresShare(98.26, 101.26, 10, 2) - 0.15) < 1e-9);
});

test('on Linux this machine’s own reading is a number of seconds', {
  skip: process.platform !== 'linux',
}, () => {
  const { stolen, idle } = machineSeconds();
  assert.ok(Number.isFinite(stolen) && stolen >= 0, String(stolen));
  assert.ok(Number.isFinite(idle) && idle > 0, String(idle));
});
