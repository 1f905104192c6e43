import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * What the emulator's lookups read of an object, beside its body: for an Event, its namespace,
 * name, involved object's uid, reason, message and lastTimestamp (src/emulator/cluster/events.ts
 * `EVENT_DIGEST`), as JSON text. A cluster loaded from the store keeps its Events as their stored
 * text and files them by this digest, so recording an Event does not parse every Event the
 * cluster has (docs/performance.md, "Seventh round: Events left as text"). Null for other objects
 * and for rows written before this migration (those are parsed on load, as before). Another
 * branch may add a migration in parallel: renumber at merge if needed.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable('emulator_objects').addColumn('digest', 'text').execute();
}
