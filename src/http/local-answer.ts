/**
 * The mark of an answer served in memory (src/reconcile/kube/local-kube.ts, `LocalOutgoing`): it
 * hands the caller's thread the text a handler sends as it is (one copy of its characters across
 * the `MessagePort`), where bytes cross as a clone of their buffer (a small one's whole 8 KiB pool
 * slab) and are decoded again there. A handler that encodes its JSON into bytes for a socket sends
 * such an answer the text instead (docs/performance.md, "Twenty-ninth round").
 */
export const TEXT_ANSWER = Symbol('an answer served in memory, kept as text');

/** Whether `raw` (a reply's `raw`) is an answer served in memory that keeps text. */
export function keepsText(raw: object): boolean {
  return TEXT_ANSWER in raw;
}
