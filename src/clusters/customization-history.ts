/**
 * A cluster's customization history as the API shows it (mks extension): newest first, each
 * change with who made it, what it changed against the change before, and how applying it ended.
 */
import type { Customization, CustomizationView } from '../customization/customization.model.ts';
import { customizationView, IPTABLES_FIELDS, IPVS_FIELDS } from '../customization/customization.ts';
import type { HistoryAction, HistoryRow } from './clusters.store.ts';

export interface FieldChange {
  /** `kubeProxyMode`, `kubeProxy.ipvs.scheduler`, `apiServer.admissionPlugins.enabled`, … */
  readonly field: string;
  /** null when not set. */
  readonly from: string | null;
  readonly to: string | null;
}

export interface HistoryEntry {
  readonly generation: number;
  readonly action: HistoryAction;
  readonly at: string;
  /** Who asked: null for changes recorded before mks kept it. */
  readonly applicationId: number | null;
  readonly applicationName: string | null;
  readonly credentialId: number | null;
  readonly sourceIp: string | null;
  readonly queryId: string | null;
  /** A revert's restored generation. */
  readonly revertOf: number | null;
  /** The generation a rollback's nodes went back to (action `rollback`). */
  readonly rolledBackTo: number | null;
  /** What a drift repair restored (action `drift`), or why the rollout was rolled back (`rollback`). */
  readonly note: string | null;
  /** The cluster after the change. */
  readonly kubeProxyMode: string;
  readonly version: string;
  readonly customization: CustomizationView;
  /** What the change changed, against the change before it (everything set, for the first). */
  readonly diff: FieldChange[];
  /** How applying it ended; null while it is being applied, or when a later change replaced it first. */
  readonly outcome: { readonly status: string; readonly message: string | null; readonly at: string } | null;
}

/** Entries of history rows given oldest first, answered newest first. */
export function historyEntries(rows: readonly HistoryRow[]): HistoryEntry[] {
  let before: Map<string, string> = new Map();
  const entries = rows.map((row) => {
    const customization = customizationView(JSON.parse(row.customization) as Customization);
    const fields = settings(row.kube_proxy_mode, customization);
    const entry: HistoryEntry = {
      generation: Number(row.generation),
      action: row.action,
      at: row.created_at,
      applicationId: row.application_id === null ? null : Number(row.application_id),
      applicationName: row.application_name,
      credentialId: row.credential_id === null ? null : Number(row.credential_id),
      sourceIp: row.source_ip,
      queryId: row.query_id,
      revertOf: row.action === 'revert' ? generationOrNull(row.source_generation) : null,
      rolledBackTo: row.action === 'rollback' ? generationOrNull(row.source_generation) : null,
      note: row.note,
      kubeProxyMode: row.kube_proxy_mode,
      version: row.version,
      customization,
      diff: changes(before, fields),
      outcome:
        row.outcome === null
          ? null
          : { status: row.outcome, message: row.outcome_message, at: row.outcome_at ?? row.created_at },
    };
    before = fields;
    return entry;
  });
  return entries.reverse();
}

function generationOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/** The settings a change can make, by field, as text (plugin lists comma-separated). */
function settings(mode: string, view: CustomizationView): Map<string, string> {
  const out = new Map<string, string>([['kubeProxyMode', mode]]);
  for (const field of IPTABLES_FIELDS) {
    const value = view.kubeProxy.iptables?.[field];
    if (value !== undefined) out.set(`kubeProxy.iptables.${field}`, value);
  }
  for (const field of IPVS_FIELDS) {
    const value = view.kubeProxy.ipvs?.[field];
    if (value !== undefined) out.set(`kubeProxy.ipvs.${field}`, value);
  }
  const plugins = view.apiServer.admissionPlugins;
  out.set('apiServer.admissionPlugins.enabled', plugins.enabled.join(','));
  out.set('apiServer.admissionPlugins.disabled', plugins.disabled.join(','));
  return out;
}

function changes(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): FieldChange[] {
  const fields = new Set([...before.keys(), ...after.keys()]);
  const out: FieldChange[] = [];
  for (const field of fields) {
    const from = before.get(field) ?? null;
    const to = after.get(field) ?? null;
    if (from !== to) out.push({ field, from, to });
  }
  return out;
}
