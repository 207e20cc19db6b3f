import Database, { type Database as Db } from 'better-sqlite3';
import { join } from 'node:path';

// One process per data dir. A second `tessera shard` (or `npm start`) on a
// live node's data dir used to open its SQLite file and delete its pid file
// before failing on the port. Now every node first takes an exclusive lock on
// `<dataDir>/tessera.lock` and holds it for its whole life; the second one
// exits with a clear error before it touches anything else.
//
// The lock is SQLite's own file lock (an fcntl lock) on a file of its own,
// held by keeping the connection in exclusive locking mode: the operating
// system releases it when the process dies, however it dies, so there is no
// stale lock to clean up after a SIGKILL, and no native addon beyond the
// SQLite we already ship.

export class DataDirLock {
  readonly #db: Db;

  private constructor(db: Db) {
    this.#db = db;
  }

  /** Takes the lock or throws at once (never waits) naming the data dir. */
  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, 'tessera.lock');
    const db = new Database(path, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock; exclusive locking mode keeps it until close.
      db.exec('CREATE TABLE IF NOT EXISTS held (pid INTEGER); DELETE FROM held;');
      db.prepare('INSERT INTO held (pid) VALUES (?)').run(process.pid);
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new Error(`data dir ${dataDir} is in use by another tessera process (its lock ${path} is held)`);
      }
      throw err;
    }
    return new DataDirLock(db);
  }

  release(): void {
    if (this.#db.open) this.#db.close();
  }
}
