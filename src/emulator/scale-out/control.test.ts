import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexedNodes } from '../cluster/kubeadm-objects.ts';
import {
  CONTROL_OPERATIONS,
  type ControlCall,
  ControlCalls,
  controlPath,
  controlResult,
  type EmulatorControl,
  invokeControl,
} from './control.ts';

/** An EmulatorControl that records each call as [method, ...arguments]. */
function recorder(): { control: EmulatorControl; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const record =
    (name: string) =>
    async (...args: unknown[]): Promise<undefined> => {
      calls.push([name, ...args]);
      return undefined;
    };
  return {
    calls,
    control: {
      ensureCluster: async (...args: unknown[]) => {
        await record('ensureCluster')(...args);
        return 'stamp/7';
      },
      setApiServerFlags: record('setApiServerFlags'),
      restartApiServer: record('restartApiServer'),
      eraseCluster: record('eraseCluster'),
      destroyCluster: record('destroyCluster'),
    },
  };
}

test('every operation goes on the wire under its method name and arrives with its arguments', async () => {
  const sent: ControlCall[] = [];
  const target = recorder();
  // What a remote process receives is what was sent, through JSON as on the wire.
  const calls = new ControlCalls(async (call) => {
    sent.push(call);
    const result = await invokeControl(target.control, JSON.parse(JSON.stringify(call)) as ControlCall);
    // The answer too goes through JSON, as the control route sends it.
    return controlResult(JSON.parse(JSON.stringify(result === undefined ? {} : { result })));
  });
  // The reconciler passes its cluster shape, with more than the operation needs.
  const nodes = indexedNodes('c/1', 3);
  const shape = { id: 'c/1', nodes, version: '1.32', tokenEpoch: 7 };
  assert.equal(await calls.ensureCluster(shape), 'stamp/7', 'ensureCluster answers the state stamp');
  await calls.setApiServerFlags('c/1', ['--enable-admission-plugins=NodeRestriction']);
  await calls.restartApiServer('c/1', '7');
  await calls.eraseCluster('c/1');
  await calls.destroyCluster('c/1');

  assert.deepEqual(
    sent.map((call) => call.operation),
    [...CONTROL_OPERATIONS],
  );
  assert.deepEqual(
    sent.map((call) => controlPath(call)),
    CONTROL_OPERATIONS.map((operation) => `/internal/emulator/c%2F1/${operation}`),
  );
  assert.deepEqual(sent[0]?.body, { nodes, version: '1.32' });
  assert.deepEqual(target.calls, [
    ['ensureCluster', { id: 'c/1', nodes, version: '1.32' }],
    ['setApiServerFlags', 'c/1', ['--enable-admission-plugins=NodeRestriction']],
    ['restartApiServer', 'c/1', '7'],
    ['eraseCluster', 'c/1'],
    ['destroyCluster', 'c/1'],
  ]);
});
