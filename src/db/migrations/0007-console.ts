import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * The web console: accounts sign in with their id as login and a password (scrypt hash, see
 * auth/passwords.ts); a consumer key keeps the IP blocks it is limited to and where it came from
 * (the credentials page shows both).
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('password_hash', 'text').execute();
  await db.schema.alterTable('credentials').addColumn('allowed_ips', 'text').execute();
  await db.schema.alterTable('credentials').addColumn('origin', 'text').execute();
  await db.schema.createIndex('credentials_account').on('credentials').column('account_id').execute();
}
