/** The pass settings of the tests that run a reconcile loop of their own (quick rollouts, every safety on). */
import type { PassSettings } from '../../src/reconcile/reconcile-cluster.ts';

export const PASS_SETTINGS: PassSettings = Object.freeze({
  progressMs: 50,
  repairDrift: true,
  autoRollback: true,
  nodeReadyTimeoutMs: 60_000,
});
