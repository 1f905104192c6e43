/**
 * Keeps the signature check's caches (AuthStore: applications and consumer keys) right in every
 * process: a revoked, expired or restricted consumer key, or a deleted application, is dropped at
 * once in the process that made the change, and in the others as soon as they hear of it.
 *
 * One implementation per engine: on SQLite one process owns the database, so forgetting locally is
 * all there is; on PostgreSQL the change is announced with NOTIFY (auth-cache-events.postgres.ts).
 */
import type { Database } from '../db/database.ts';
import { postgresAuthCacheEvents } from './auth-cache-events.postgres.ts';

export type AuthCacheEvent =
  | { readonly kind: 'credential'; readonly id: number }
  | { readonly kind: 'application'; readonly id: number };

/** The caches' side (AuthStore). */
export interface AuthCacheReceiver {
  forget(event: AuthCacheEvent): void;
  /** Drops every cached entry (notifications may have been missed). */
  forgetAll(): void;
  /** Whether cached entries may be served; when not, every check reads the database. */
  trust(trusted: boolean): void;
}

export interface AuthCacheEvents {
  /** Forgets in this process and tells the others; call once the change is committed. */
  announce(event: AuthCacheEvent): Promise<void>;
}

export function openAuthCacheEvents(database: Database, receiver: AuthCacheReceiver): AuthCacheEvents {
  switch (database.engine) {
    case 'sqlite':
      return {
        announce: async (event) => receiver.forget(event),
      };
    case 'postgres':
      return postgresAuthCacheEvents(database.notifications, receiver);
  }
}
