/**
 * Migrations are code, listed here in order; Kysely's Migrator records which ran (and locks, so
 * several processes starting at once on PostgreSQL migrate once).
 */
import { type Kysely, type Migration, Migrator } from 'kysely';
import type { Engine } from './database.ts';
import * as initial from './migrations/0001-initial.ts';
import * as emulator from './migrations/0002-emulator.ts';
import * as reconcile from './migrations/0003-reconcile.ts';
import * as emulatorOwners from './migrations/0005-emulator-owners.ts';
import * as installationCa from './migrations/0006-installation-ca.ts';
import * as console from './migrations/0007-console.ts';
import * as nodePools from './migrations/0008-nodepools.ts';
import * as ipRestrictions from './migrations/0009-ip-restrictions.ts';
import * as openIdConnect from './migrations/0010-open-id-connect.ts';
import * as historyAudit from './migrations/0011-history-audit.ts';
import * as restart from './migrations/0012-restart.ts';
import * as historyOneIndex from './migrations/0013-history-one-index.ts';
import * as emulatorDigest from './migrations/0014-emulator-digest.ts';
import type { Schema } from './schema.ts';

interface MigrationModule {
  up(db: Kysely<unknown>, engine: Engine): Promise<void>;
}

const MIGRATIONS: ReadonlyArray<readonly [string, MigrationModule]> = [
  ['0001-initial', initial],
  ['0002-emulator', emulator],
  ['0003-reconcile', reconcile],
  ['0005-emulator-owners', emulatorOwners],
  ['0006-installation-ca', installationCa],
  ['0007-console', console],
  ['0008-nodepools', nodePools],
  ['0009-ip-restrictions', ipRestrictions],
  ['0010-open-id-connect', openIdConnect],
  ['0011-history-audit', historyAudit],
  ['0012-restart', restart],
  ['0013-history-one-index', historyOneIndex],
  ['0014-emulator-digest', emulatorDigest],
];

export async function migrateToLatest(db: Kysely<Schema>, engine: Engine): Promise<string[]> {
  const migrations: Record<string, Migration> = {};
  for (const [name, module] of MIGRATIONS) {
    migrations[name] = { up: (database) => module.up(database, engine) };
  }
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
  return (results ?? [])
    .filter((result) => result.status === 'Success')
    .map((result) => result.migrationName);
}
