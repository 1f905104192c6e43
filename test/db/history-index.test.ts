/**
 * Migration 0013: the customization history keeps one index per cluster, (cluster_id,
 * generation), on both engines; on SQLite the history read and the outcome's update search it
 * (never a scan of every cluster's history).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/database.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';

const SQLITE_INDEXES =
  "select name from sqlite_master where type = 'index' and tbl_name = 'cluster_history' and sql is not null";
const POSTGRES_INDEXES =
  "select indexname as name from pg_indexes where tablename = 'cluster_history' and indexname <> 'cluster_history_pkey'";

for (const dialect of DIALECTS) {
  describe(`the history's index (${dialect})`, () => {
    let testDatabase: TestDatabase;
    before(async () => {
      testDatabase = await createTestDatabase(dialect);
    });
    after(async () => testDatabase.drop());

    test('one index over cluster_id remains: (cluster_id, generation)', async () => {
      const database = await openDatabase(testDatabase.config);
      try {
        const query = dialect === 'sqlite' ? SQLITE_INDEXES : POSTGRES_INDEXES;
        const names = (await sql<{ name: string }>`${sql.raw(query)}`.execute(database.db)).rows.map(
          (row) => row.name,
        );
        assert.deepEqual(names, ['cluster_history_generation']);
        if (dialect !== 'sqlite') return;
        const plan = async (query: string) =>
          (await sql<{ detail: string }>`explain query plan ${sql.raw(query)}`.execute(database.db)).rows
            .map((row) => row.detail)
            .join('; ');
        assert.match(
          await plan(
            `select "cluster_history".*, "applications"."name" from "cluster_history" left join "applications" on "applications"."id" = "cluster_history"."application_id" where "cluster_history"."cluster_id" = 'c' order by "cluster_history"."id"`,
          ),
          /SEARCH cluster_history USING INDEX cluster_history_generation \(cluster_id=\?\)/,
        );
        assert.match(
          await plan(
            `update "cluster_history" set "outcome" = 'x' where "cluster_id" = 'c' and "generation" = 2`,
          ),
          /SEARCH cluster_history USING INDEX cluster_history_generation \(cluster_id=\? AND generation=\?\)/,
        );
      } finally {
        await database.close();
      }
    });
  });
}
