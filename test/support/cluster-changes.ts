/**
 * One change of each kind a cluster record goes through (a customization with its new generation,
 * IP restrictions, a rename, a status, none at all), for tests checking that whatever a change
 * touched, the row reads back from the database as the record in memory.
 */
import type { ClusterRecord } from '../../src/clusters/clusters.model.ts';

export const CHANGE_STEPS: ReadonlyArray<(current: ClusterRecord) => ClusterRecord> = [
  (current) => ({
    ...current,
    customization: { kubeProxy: { iptables: { syncPeriod: 'PT30S' } } },
    generation: current.generation + 1,
    status: 'UPDATING',
  }),
  (current) => ({ ...current, ipRestrictions: ['10.0.0.0/8'] }),
  (current) => ({ ...current, name: 'renamed', updatedAt: new Date().toISOString() }),
  (current) => ({ ...current, status: 'READY', statusMessage: null, observedGeneration: current.generation }),
  (current) => ({ ...current }),
];
