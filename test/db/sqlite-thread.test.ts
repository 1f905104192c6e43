/**
 * The SQLite connection thread (db/sqlite-thread.ts): a second writer on the database file beside
 * the main connection. Its writes commit in order and whole (or not at all, with SQLite's error);
 * the main connection reads a write once it resolved; close() waits for what was sent. It takes turns with the main
 * connection's exclusive writes and Kysely's transactions without an error on either side, and the
 * checkpointer's hold holds it too, so the WAL still starts over while both write.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { startCheckpointer } from '../../src/db/sqlite-checkpointer.ts';
import { sqliteConnection } from '../../src/db/sqlite-statement-cache.ts';
import { sqliteThread, WriteTurn } from '../../src/db/sqlite-thread.ts';
import { sqliteFiles } from '../support/sqlite-files.ts';

const INSERT = ['insert into thread_items (id, label) values (?, ?)'];

describe('SQLite connection thread', () => {
  const files = sqliteFiles('mks-sqlite-thread-');

  function open(name: string) {
    const { file, database } = files.open(
      name,
      'create table items (id integer primary key, label text not null)',
      'create table thread_items (id integer primary key, label text not null)',
    );
    const turn = new WriteTurn();
    const connection = sqliteConnection(database, turn);
    const thread = sqliteThread(file, turn);
    const count = (table: string) =>
      (database.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
    return { file, database, connection, thread, count };
  }

  test('writes commit whole and in the order sent, a failed one keeps nothing, close waits for them', async () => {
    const { database, thread, count } = open('order.db');
    await thread.write(
      INSERT,
      [0, 0],
      [
        [1, 'one'],
        [2, 'two'],
      ],
    );
    assert.equal(count('thread_items'), 2, 'committed once the write resolved');
    // The second statement fails (id 1 exists): the first one of its transaction is not kept.
    await assert.rejects(
      thread.write(
        INSERT,
        [0, 0],
        [
          [3, 'three'],
          [1, 'again'],
        ],
      ),
      (error: Error & { code?: unknown }) => error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY',
    );
    assert.equal(count('thread_items'), 2, 'nothing of the failed write');
    // A write sent in several messages (parts of 128 statements) is still one transaction.
    const many = Array.from({ length: 300 }, (_, index) => [100 + index, 'many']);
    many[250] = [1, 'again'];
    await assert.rejects(
      thread.write(
        INSERT,
        many.map(() => 0),
        many,
      ),
      (error: Error & { code?: unknown }) => error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY',
    );
    assert.equal(count('thread_items'), 2, 'nothing of the failed write sent in parts');
    many[250] = [350, 'many'];
    await thread.write(
      INSERT,
      many.map(() => 0),
      many,
    );
    assert.equal(count('thread_items'), 302, 'every part of it committed');
    // Sent without waiting: they commit in the order sent (a later one sees the earlier one's row).
    const first = thread.write(INSERT, [0], [[4, 'four']]);
    const second = thread.write(
      ['insert into thread_items (id, label) select 6, label from thread_items where id = 4'],
      [0],
      [[]],
    );
    await Promise.all([first, second]);
    assert.deepEqual(
      database.prepare('select id, label from thread_items where id < 100 order by id').raw(true).all(),
      [
        [1, 'one'],
        [2, 'two'],
        [4, 'four'],
        [6, 'four'],
      ],
    );
    // Close waits for what was sent.
    const last = thread.write(INSERT, [0], [[5, 'five']]);
    await thread.close();
    await last;
    assert.equal(count('thread_items'), 305);
    database.close();
  });

  test('the thread and the main connection write at once without an error on either side', async () => {
    const { connection, thread, count } = open('both.db');
    const db = new Kysely<{ items: { id: number; label: string } }>({
      dialect: new SqliteDialect({ database: connection.kysely }),
    });
    const rounds = 150;
    const work: Promise<unknown>[] = [];
    for (let round = 0; round < rounds; round++) {
      // A batch for the thread, a group commit of the main connection, and a Kysely transaction
      // that reads before it writes (its snapshot would be stale after the thread's commit).
      work.push(
        thread.write(
          INSERT,
          Array.from({ length: 20 }, () => 0),
          Array.from({ length: 20 }, (_, index) => [round * 20 + index, 'x'.repeat(500)]),
        ),
      );
      work.push(
        connection.exclusive.grouped((s) =>
          s.run('insert into items (id, label) values (?, ?)', [round, 'main']),
        ),
      );
      work.push(
        db.transaction().execute(async (trx) => {
          const { n } = (await sql<{ n: number }>`select count(*) as n from thread_items`.execute(trx))
            .rows[0]!;
          await trx
            .insertInto('items')
            .values({ id: 100_000 + round, label: String(n) })
            .execute();
        }),
      );
      if (round % 10 === 0) await Promise.all(work.splice(0));
    }
    await Promise.all(work);
    await thread.close();
    assert.equal(count('thread_items'), rounds * 20);
    assert.equal(count('items'), rounds * 2);
    await db.destroy();
  });

  test('the checkpointer holds the thread too: the WAL is written over while both write', async () => {
    const { file, database, connection, thread, count } = open('steady.db');
    const checkpointer = startCheckpointer(file, connection.writes, 50);
    const label = 'x'.repeat(2000);
    let id = 0;
    let threadId = 0;
    let commits = 0;
    let largestWal = 0;
    const started = Date.now();
    // The main connection (groups of 8 rows of 2 KB) and the thread (commits of 8 such rows)
    // write each at its own pace, each commit at least 4 pages in the WAL, for at least 1 s and
    // 64 MB appended (bounded: a loaded machine).
    const perCommit = 4 * 4096;
    const going = () => {
      assert.ok(Date.now() - started < 30_000, `still writing after 30 s (${commits} commits)`);
      return Date.now() - started < 1_000 || commits * perCommit < 64 * 1024 * 1024;
    };
    const mainWrites = async () => {
      while (going()) {
        await Promise.all(
          Array.from({ length: 8 }, () =>
            connection.exclusive.grouped((s) =>
              s.run('insert into items (id, label) values (?, ?)', [++id, label]),
            ),
          ),
        );
        commits++;
        largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
      }
    };
    const threadWrites = async () => {
      while (going()) {
        await thread.write(
          INSERT,
          Array.from({ length: 8 }, () => 0),
          Array.from({ length: 8 }, () => [++threadId, label]),
        );
        commits++;
        largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
      }
    };
    await Promise.all([mainWrites(), threadWrites()]);
    await thread.close();
    await checkpointer.stop();
    assert.equal(count('items'), id, 'every write of the main connection committed');
    assert.equal(count('thread_items'), threadId, "every write of the thread's committed");
    database.close();
    const appended = commits * perCommit;
    // Without restarts the WAL holds every frame appended (more than `appended`: each commit also
    // writes b-tree pages); with them its largest size is what was written between two restarts,
    // which a loaded machine (the checkpointer starved of a core) makes longer: a wide margin.
    assert.ok(largestWal < appended * 0.75, `largest WAL ${largestWal} B, appended at least ${appended} B`);
  });
});
