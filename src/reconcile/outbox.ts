/**
 * Messages to another thread posted in one go: those queued within the same turn of the event
 * loop's microtasks leave as one message, an array. A message costs its sender ≈ 5–10 µs and wakes
 * the receiver, and on a machine whose cores are busy each wake-up costs both threads more: the
 * answers of a group commit, the passes of one claim, the next calls of the passes one batch of
 * answers let go on come together (docs/reconciler-thread.md; docs/performance.md, "Seventeenth
 * round"). Flushing later than the microtasks (at the loop's check phase) gathered more but made
 * every call wait a turn of a busy loop, and the fleet's passes then waited on that.
 */
export interface Postable {
  postMessage(message: unknown): void;
}

export function outbox<T>(target: Postable): (message: T) => void {
  let queued: T[] = [];
  const flush = () => {
    const messages = queued;
    queued = [];
    target.postMessage(messages);
  };
  return (message) => {
    if (queued.push(message) === 1) queueMicrotask(flush);
  };
}
