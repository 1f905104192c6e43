/** The emulator's tables (created by migration 0002). */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.ts';

export type EmulatorClusterTable = {
  id: string;
  version: string;
  node_count: number;
  resource_version: number | string;
  busy: number;
  created_at: string;
};

export type EmulatorObjectTable = {
  cluster_id: string;
  resource: string;
  namespace: string;
  name: string;
  body: string;
};

export type EmulatorTables = {
  emulator_clusters: EmulatorClusterTable;
  emulator_objects: EmulatorObjectTable;
};

export const emulatorTables = (database: Database): Kysely<EmulatorTables> =>
  database.db.withTables<EmulatorTables>() as unknown as Kysely<EmulatorTables>;
