/**
 * SQLite group commit (`exclusive.grouped`, db/sqlite-statement-cache.ts): the writes asked for in
 * one turn of the event loop share one transaction, one that throws is undone alone, and no
 * promise settles before the shared commit.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite from 'better-sqlite3';
import { sqliteConnection } from '../../src/db/sqlite-statement-cache.ts';

describe('SQLite group commit', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-group-commit-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function open(name: string) {
    const file = path.join(dir, name);
    const database = new BetterSqlite(file);
    database.pragma('journal_mode = WAL');
    database.pragma('wal_autocheckpoint = 0');
    database.exec('create table items (id integer primary key, label text not null)');
    database.pragma('wal_checkpoint(TRUNCATE)');
    const walBytes = () => fs.statSync(`${file}-wal`).size;
    return { database, exclusive: sqliteConnection(database).exclusive, walBytes };
  }

  const insert = (id: number) => (sql: { run(text: string, parameters: unknown[]): void }) => {
    sql.run('insert into items (id, label) values (?, ?)', [id, `item ${id}`]);
    return id;
  };

  test('writes of one turn commit together; one that throws is refused alone', async () => {
    const { database, exclusive } = open('mixed.db');
    const settled: string[] = [];
    const track = <T>(name: string, promise: Promise<T>) =>
      promise.then(
        (value) => {
          settled.push(name);
          return value;
        },
        (error: unknown) => {
          settled.push(name);
          throw error;
        },
      );
    const first = track('first', exclusive.grouped(insert(1)));
    const refused = track(
      'refused',
      exclusive.grouped((sql) => {
        sql.run('insert into items (id, label) values (?, ?)', [2, 'item 2']);
        throw new Error('refused by validation');
      }),
    );
    const duplicate = track('duplicate', exclusive.grouped(insert(1)));
    const third = track('third', exclusive.grouped(insert(3)));
    assert.deepEqual(settled, [], 'nothing settles before the group runs');
    assert.equal(await first, 1);
    await assert.rejects(refused, /refused by validation/);
    await assert.rejects(duplicate, /UNIQUE constraint failed/);
    assert.equal(await third, 3);
    assert.deepEqual(
      database.prepare('select id from items order by id').all(),
      [{ id: 1 }, { id: 3 }],
      'the refused write and the failed one left nothing; the others were kept',
    );
    database.close();
  });

  test('a group is one commit: the WAL grows by one transaction, not by one per write', async () => {
    const writes = 20;
    const grouped = open('grouped.db');
    await Promise.all(
      Array.from({ length: writes }, (_, index) => grouped.exclusive.grouped(insert(index + 1))),
    );
    const separate = open('separate.db');
    for (let index = 0; index < writes; index++) await separate.exclusive.grouped(insert(index + 1));
    for (const { database } of [grouped, separate]) {
      assert.equal((database.prepare('select count(*) as n from items').get() as { n: number }).n, writes);
    }
    // Each commit appends the pages it changed (here the same one) to the WAL.
    assert.ok(
      grouped.walBytes() * 5 < separate.walBytes(),
      `one commit (${grouped.walBytes()} B of WAL) against ${writes} (${separate.walBytes()} B)`,
    );
    grouped.database.close();
    separate.database.close();
  });
});
