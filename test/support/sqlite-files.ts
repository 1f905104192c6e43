/**
 * SQLite database files in a temporary directory, opened as mks opens its own (WAL,
 * `synchronous = NORMAL`, no automatic checkpoint: the checkpointer's), for the tests of
 * src/db's SQLite parts. Call it in a `describe`: the directory is made before its tests and
 * removed after them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import BetterSqlite from 'better-sqlite3';

export function sqliteFiles(prefix: string): {
  open(name: string, ...statements: string[]): { file: string; database: BetterSqlite.Database };
} {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return {
    open(name, ...statements) {
      const file = path.join(dir, name);
      const database = new BetterSqlite(file);
      database.pragma('journal_mode = WAL');
      database.pragma('synchronous = NORMAL');
      database.pragma('busy_timeout = 5000');
      database.pragma('wal_autocheckpoint = 0');
      for (const statement of statements) database.exec(statement);
      return { file, database };
    },
  };
}
