/**
 * The SQLite WAL starts over under a steady stream of writes (db/sqlite-checkpointer.ts): the
 * checkpointer asks the connection to hold its exclusive writes while it copies the frames written
 * during its checkpoint, so that the next commit writes at the WAL's beginning instead of making
 * the file longer without end. Writes asked during a hold wait; none is lost or refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite from 'better-sqlite3';
import { startCheckpointer } from '../../src/db/sqlite-checkpointer.ts';
import { sqliteConnection } from '../../src/db/sqlite-statement-cache.ts';

describe('SQLite WAL restart under steady writes', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-wal-restart-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function open(name: string) {
    const file = path.join(dir, name);
    const database = new BetterSqlite(file);
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('wal_autocheckpoint = 0');
    database.exec('create table items (id integer primary key, label text not null)');
    return { file, database, connection: sqliteConnection(database) };
  }

  test('a write asked while writes are held waits for the release, then commits', async () => {
    const { database, connection } = open('held.db');
    connection.writes.hold();
    let settled = false;
    const written = connection.exclusive
      .grouped((sql) => sql.run('insert into items (id, label) values (?, ?)', [1, 'held']))
      .then(() => {
        settled = true;
      });
    // Several turns of the event loop: the group's turn has come and gone.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'held');
    assert.equal((database.prepare('select count(*) as n from items').get() as { n: number }).n, 0);
    connection.writes.release();
    await written;
    assert.equal((database.prepare('select count(*) as n from items').get() as { n: number }).n, 1);
    database.close();
  });

  test('under steady group commits the WAL is written over, not made longer', async () => {
    const { file, database, connection } = open('steady.db');
    const checkpointer = startCheckpointer(file, connection.writes, 50);
    const label = 'x'.repeat(2000);
    let id = 0;
    let commits = 0;
    let largestWal = 0;
    const started = Date.now();
    // Groups of 8 rows of 2 KB (each commit appends at least 4 pages to the WAL) for at least 1 s
    // (20 checkpoint periods) and 32 MB appended, whichever comes last (bounded: a loaded machine).
    const perCommit = 4 * 4096;
    while (Date.now() - started < 1_000 || commits * perCommit < 32 * 1024 * 1024) {
      assert.ok(Date.now() - started < 30_000, `still writing after 30 s (${commits} commits)`);
      await Promise.all(
        Array.from({ length: 8 }, () =>
          connection.exclusive.grouped((sql) =>
            sql.run('insert into items (id, label) values (?, ?)', [++id, label]),
          ),
        ),
      );
      commits++;
      largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
    }
    await checkpointer.stop();
    assert.equal(
      (database.prepare('select count(*) as n from items').get() as { n: number }).n,
      id,
      'every write committed',
    );
    database.close();
    // Without restarts the WAL holds every frame appended since the database was opened (at
    // least `appended`). With them it stays far below; the margin is wide because on a loaded
    // machine the checkpointer's thread may not run for a while, and the WAL grows meanwhile.
    const appended = commits * perCommit;
    assert.ok(
      largestWal < (appended * 3) / 4,
      `largest WAL ${largestWal} B, appended at least ${appended} B`,
    );
  });
});
