/**
 * The auth caches across the processes sharing a PostgreSQL database: a change is announced with
 * NOTIFY once committed, and every process LISTENs. Until a process listens (at start, and after
 * its listening connection was lost) it serves no cached entry: every signed call reads the
 * database, so no notification missed meanwhile can leave a revoked key usable.
 */
import type { PostgresNotifications } from '../db/postgres-notifications.ts';
import type { AuthCacheEvent, AuthCacheEvents, AuthCacheReceiver } from './auth-cache-events.ts';

const CHANNEL = 'mks_auth_cache';

export function postgresAuthCacheEvents(
  notifications: PostgresNotifications,
  receiver: AuthCacheReceiver,
): AuthCacheEvents {
  receiver.trust(false);
  notifications.listen(CHANNEL, {
    message(payload) {
      const event = parseEvent(payload);
      if (event === undefined) receiver.forgetAll();
      else receiver.forget(event);
    },
    listening() {
      receiver.forgetAll();
      receiver.trust(true);
    },
    lost() {
      receiver.trust(false);
    },
  });
  return {
    async announce(event) {
      receiver.forget(event);
      await notifications.notify(CHANNEL, `${event.kind}:${event.id}`);
    },
  };
}

function parseEvent(payload: string): AuthCacheEvent | undefined {
  const [kind, id] = payload.split(':');
  const number = Number(id);
  if (!Number.isSafeInteger(number)) return undefined;
  if (kind === 'credential' || kind === 'application') return { kind, id: number };
  return undefined;
}
