/**
 * PostgreSQL's LISTEN/NOTIFY, for what processes sharing the database must tell one another at
 * once (a revoked consumer key). A listener holds one dedicated connection; while it is down,
 * notifications may be missed, so the listener is told (`lost`) and told again when it listens
 * anew (`listening`): what it caches must not be trusted in between.
 */
import pg from 'pg';

export interface NotificationListener {
  /** A notification on the channel. */
  message(payload: string): void;
  /** Listening (again): from now on every notification arrives. */
  listening(): void;
  /** The connection is lost: notifications may be missed until `listening` is called again. */
  lost(): void;
}

export interface PostgresNotifications {
  /** Listens on `channel` until the database is closed, reconnecting after a lost connection. */
  listen(channel: string, listener: NotificationListener): void;
  /** Notifies every listener of `channel` (this process's included), once committed. */
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

/** Wait before listening again after a lost connection. */
const RECONNECT_MS = 500;

export function postgresNotifications(url: string, pool: pg.Pool): PostgresNotifications {
  let closed = false;
  const clients = new Set<pg.Client>();
  const timers = new Set<NodeJS.Timeout>();

  const connect = (channel: string, listener: NotificationListener): void => {
    if (closed) return;
    const client = new pg.Client({ connectionString: url });
    clients.add(client);
    let down = false;
    const retry = () => {
      if (down) return;
      down = true;
      listener.lost();
      clients.delete(client);
      void client.end().catch(() => {});
      if (closed) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        connect(channel, listener);
      }, RECONNECT_MS);
      timer.unref();
      timers.add(timer);
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (notification) => {
      if (notification.channel === channel) listener.message(notification.payload ?? '');
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${pg.escapeIdentifier(channel)}`))
      .then(() => {
        if (!down) listener.listening();
      })
      .catch(retry);
  };

  return {
    listen: connect,
    async notify(channel, payload) {
      await pool.query('select pg_notify($1, $2)', [channel, payload]);
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.all([...clients].map((client) => client.end().catch(() => {})));
    },
  };
}
