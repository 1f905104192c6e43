/**
 * SQLite group commit (`exclusive.grouped`, db/sqlite-statement-cache.ts): the writes asked for in
 * one turn of the event loop share one transaction, one that throws is undone alone (with what it
 * changed in memory), and no promise settles before the commit that holds its writes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite from 'better-sqlite3';
import {
  RowsStatement,
  RowUpdate,
  type SyncSql,
  sqliteConnection,
} from '../../src/db/sqlite-statement-cache.ts';

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

  test('rows reads arrays in the select order, after the rows batched so far; the same SQL read by `all` after it still gives objects', async () => {
    const { database, exclusive } = open('rows.db');
    const batched = new RowsStatement('insert into items (id, label)', '(?, ?)');
    const select = 'select label, id from items where id >= ? order by id';
    const read = await exclusive.transaction((sql) => {
      sql.run('insert into items (id, label) values (?, ?)', [1, 'one']);
      sql.batch(batched, [2, 'two']);
      const rows = sql.rows(select, [1]);
      sql.batch(batched, [3, 'three']);
      return { rows, objects: sql.all(select, [2]), again: sql.rows(select, [3]) };
    });
    assert.deepEqual(read.rows, [
      ['one', 1],
      ['two', 2],
    ]);
    assert.deepEqual(read.objects, [
      { label: 'two', id: 2 },
      { label: 'three', id: 3 },
    ]);
    assert.deepEqual(read.again, [['three', 3]]);
    database.close();
  });

  test('a member refused before writing leaves the group running once; one that fails after writing makes the others run again alone', async () => {
    const { database, exclusive } = open('rerun.db');
    // What the members hold in memory besides the table, as a cache does: kept only if committed.
    const memory = new Map<number, string>();
    const runs = new Map<number, number>();
    const write = (id: number, label: string) => (sql: SyncSql) => {
      runs.set(id, (runs.get(id) ?? 0) + 1);
      sql.run('insert into items (id, label) values (?, ?)', [id, label]);
      memory.set(id, label);
      sql.undo(() => memory.delete(id));
      return id;
    };
    const refusedBeforeWriting = (sql: SyncSql): number => {
      runs.set(0, (runs.get(0) ?? 0) + 1);
      sql.get('select count(*) as n from items', []);
      throw new Error('refused by a check');
    };

    // A group whose only failure is a check: one pass, the others kept.
    const checked = [
      exclusive.grouped(write(1, 'one')),
      exclusive.grouped(refusedBeforeWriting),
      exclusive.grouped(write(2, 'two')),
    ];
    assert.equal(await checked[0], 1);
    await assert.rejects(checked[1]!, /refused by a check/);
    assert.equal(await checked[2], 2);
    assert.deepEqual(
      [...runs],
      [
        [1, 1],
        [0, 1],
        [2, 1],
      ],
      'each member ran once',
    );

    // A group where one member's statement fails after another statement of it succeeded.
    runs.clear();
    const failsAfterWriting = (sql: SyncSql): number => {
      runs.set(5, (runs.get(5) ?? 0) + 1);
      sql.run('insert into items (id, label) values (?, ?)', [5, 'five']);
      memory.set(5, 'five');
      sql.undo(() => memory.delete(5));
      sql.run('insert into items (id, label) values (?, ?)', [1, 'taken']); // id 1 exists
      return 5;
    };
    const mixed = [
      exclusive.grouped(write(3, 'three')),
      exclusive.grouped(failsAfterWriting),
      exclusive.grouped(write(4, 'four')),
      exclusive.grouped(refusedBeforeWriting),
    ];
    assert.equal(await mixed[0], 3);
    await assert.rejects(mixed[1]!, /UNIQUE constraint failed/);
    assert.equal(await mixed[2], 4);
    await assert.rejects(mixed[3]!, /refused by a check/);
    assert.deepEqual(
      [...runs].sort(([a], [b]) => a - b),
      [
        [0, 1],
        [3, 2],
        [4, 1],
        [5, 2],
      ],
      'the group stopped at the failed member; then every member ran alone',
    );
    assert.deepEqual(
      database.prepare('select id, label from items order by id').all(),
      [
        { id: 1, label: 'one' },
        { id: 2, label: 'two' },
        { id: 3, label: 'three' },
        { id: 4, label: 'four' },
      ],
      'nothing of the failed member is kept, not even its first insert',
    );
    assert.deepEqual(
      [...memory].sort(([a], [b]) => a - b),
      [
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
        [4, 'four'],
      ],
      'what the failed member changed in memory was taken back',
    );
    database.close();
  });

  test('batched rows are written with the group, keyed ones once per key; a read sees them; a batched row that fails makes every call run alone', async () => {
    const { database, exclusive } = open('batched.db');
    const rows = new RowsStatement('insert into items (id, label)', '(?, ?)');
    const upsert = new RowsStatement(
      'insert into items (id, label)',
      '(?, ?)',
      ' on conflict (id) do update set label = excluded.label',
    );
    const itemCount = () => (database.prepare('select count(*) as n from items').get() as { n: number }).n;
    // 20 calls in one group, each reading after it batched.
    const seen = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        exclusive.grouped((sql) => {
          sql.batch(rows, [index + 1, `item ${index + 1}`]);
          sql.batch(upsert, [100, `last ${index + 1}`], 'hundred');
          // A read in the transaction sees every row batched before it.
          return sql.get<{ n: number }>('select count(*) as n from items', [])?.n;
        }),
      ),
    );
    assert.deepEqual(
      seen,
      Array.from({ length: 20 }, (_, index) => index + 2),
      'each read saw the rows batched before it (and the keyed row once)',
    );
    assert.equal(itemCount(), 21);
    assert.deepEqual(database.prepare('select label from items where id = 100').get(), { label: 'last 20' });

    // Without reads: the rows wait for the end of the group (37: more than the exact sizes, 32 + 5);
    // the keyed one is written once, the last.
    await Promise.all(
      Array.from({ length: 37 }, (_, index) =>
        exclusive.grouped((sql) => {
          sql.batch(rows, [index + 201, `item ${index + 201}`]);
          sql.batch(upsert, [100, `again ${index + 1}`], 'hundred');
        }),
      ),
    );
    assert.equal(itemCount(), 58);
    assert.deepEqual(database.prepare('select label from items where id = 100').get(), { label: 'again 37' });

    // One batched row breaks a constraint: the group is rolled back and each call runs alone.
    const memory = new Set<number>();
    const write = (id: number) => (sql: SyncSql) => {
      sql.batch(rows, [id, `item ${id}`]);
      memory.add(id);
      sql.undo(() => memory.delete(id));
      return id;
    };
    const results = await Promise.allSettled(
      [write(301), write(1), write(302)].map((work) => exclusive.grouped(work)),
    );
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /UNIQUE constraint failed/);
    assert.equal(itemCount(), 60);
    assert.deepEqual([...memory].sort(), [301, 302], 'the refused row left nothing in memory');

    // The failing row is written by another call's read, which goes on as if nothing happened: the
    // call whose row it was still fails, alone, and the reader's own change is kept.
    const reader = (sql: SyncSql) => {
      try {
        sql.get('select count(*) as n from items', []);
      } catch {
        // swallowed: the group must not take this call for refused, nor the failed row for written
      }
      sql.batch(rows, [401, 'item 401']);
      return 401;
    };
    const afterRead = await Promise.allSettled([write(2), reader].map((work) => exclusive.grouped(work)));
    assert.deepEqual(
      afterRead.map((result) => result.status),
      ['rejected', 'fulfilled'],
    );
    assert.match(String((afterRead[0] as PromiseRejectedResult).reason), /UNIQUE constraint failed/);
    assert.deepEqual(database.prepare('select id from items where id in (2, 401)').all(), [
      { id: 2 },
      { id: 401 },
    ]);
    assert.deepEqual([...memory].sort(), [301, 302]);
    database.close();
  });

  test('columns set on one row by a group are written by one update, the last value of each winning; a read sees them; one that fails makes every call run alone', async () => {
    const { database, exclusive } = open('set.db');
    database.exec(`
      alter table items add column note text;
      alter table items add column size integer not null default 0;
      create table updates (n integer not null);
      insert into updates (n) values (0);
      create trigger count_updates after update on items begin update updates set n = n + 1; end;
      insert into items (id, label) values (1, 'one'), (2, 'two');
    `);
    const items = new RowUpdate('items');
    const updateCount = () => (database.prepare('select n from updates').get() as { n: number }).n;
    const row = (id: number) =>
      database.prepare('select id, label, note, size from items where id = ?').get(id);

    // Six calls in one group: four on item 1 (different columns, one column twice), two on item 2.
    await Promise.all([
      exclusive.grouped((sql) => sql.set(items, '1', { label: 'one, first' })),
      exclusive.grouped((sql) => sql.set(items, '1', { note: 'noted' })),
      exclusive.grouped((sql) => sql.set(items, '2', { size: 2 })),
      exclusive.grouped((sql) => sql.set(items, '1', { label: 'one, last', size: 1 })),
      exclusive.grouped((sql) => sql.set(items, '2', { note: 'two noted' })),
      exclusive.grouped((sql) => sql.set(items, '1', {})),
    ]);
    assert.equal(updateCount(), 2, 'one update per row');
    assert.deepEqual(row(1), { id: 1, label: 'one, last', note: 'noted', size: 1 });
    assert.deepEqual(row(2), { id: 2, label: 'two', note: 'two noted', size: 2 });

    // A read in the transaction sees the columns set before it.
    const seen = await Promise.all(
      [3, 4].map((size) =>
        exclusive.grouped((sql) => {
          sql.set(items, '1', { size });
          return sql.get<{ size: number }>('select size from items where id = 1', [])?.size;
        }),
      ),
    );
    assert.deepEqual(seen, [3, 4]);
    assert.equal((row(1) as { size: number }).size, 4);

    // One call sets a column to what the table refuses: the group is rolled back and each call
    // runs alone, so it fails alone, with what it changed in memory, and the others are kept.
    const memory = new Set<string>();
    const write = (id: string, columns: Record<string, unknown>) => (sql: SyncSql) => {
      sql.set(items, id, columns);
      memory.add(id);
      sql.undo(() => memory.delete(id));
    };
    const before = updateCount();
    const results = await Promise.allSettled(
      [write('1', { note: 'kept' }), write('2', { size: null }), write('2', { label: 'two, kept' })].map(
        (work) => exclusive.grouped(work),
      ),
    );
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /NOT NULL constraint failed/);
    assert.deepEqual(row(1), { id: 1, label: 'one, last', note: 'kept', size: 4 });
    assert.deepEqual(row(2), { id: 2, label: 'two, kept', note: 'two noted', size: 2 });
    assert.equal(updateCount(), before + 2, 'the two kept calls, each alone');
    assert.deepEqual([...memory].sort(), ['1', '2']);
    database.close();
  });

  test('a transaction that fails takes back what its work changed in memory', async () => {
    const { database, exclusive } = open('undo.db');
    const memory = new Set<string>();
    await assert.rejects(
      exclusive.transaction((sql) => {
        sql.run('insert into items (id, label) values (?, ?)', [1, 'one']);
        memory.add('one');
        sql.undo(() => memory.delete('one'));
        sql.run('insert into items (id, label) values (?, ?)', [1, 'again']);
      }),
      /UNIQUE constraint failed/,
    );
    assert.deepEqual([...memory], []);
    assert.equal((database.prepare('select count(*) as n from items').get() as { n: number }).n, 0);
    await exclusive.transaction((sql) => {
      sql.run('insert into items (id, label) values (?, ?)', [2, 'two']);
      memory.add('two');
      sql.undo(() => memory.delete('two'));
    });
    assert.deepEqual([...memory], ['two'], 'a committed change keeps its memory');
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
