/**
 * Does a transaction read from a snapshot? Under REPEATABLE READ and SERIALIZABLE (and SQLite in
 * WAL mode) a transaction keeps reading what was committed when its snapshot was taken, possibly
 * before a commit whose invalidation getOrSet's capture came too late to see: a value loaded
 * there must not be stored. The level is the transaction's own, else the server's default, read
 * once per Sequelize instance in the background (until it is known, and when it cannot be read,
 * the answer is yes).
 * @internal
 */
import type { SequelizeLike, TransactionLike } from './model.js';

type Queryable = { query(sql: string, options: object): Promise<unknown> };

/** Sequelize instance -> whether its transactions read from a snapshot by default (undefined: not known yet) */
const defaults = new WeakMap<object, { snapshot: boolean | undefined }>();

/**
 * The levels that read from a snapshot: PostgreSQL's REPEATABLE READ and SERIALIZABLE; InnoDB's
 * REPEATABLE READ (its SERIALIZABLE turns plain reads into locking reads of the latest rows).
 */
const snapshotLevel = (dialect: string | undefined, level: string): boolean =>
  (dialect === 'mariadb' || dialect === 'mysql' ? /repeatable/i : /repeatable|serializable/i).test(level);

/** The statement telling the server's default isolation (a one-row, one-column answer). */
function defaultLevelSql(dialect: string | undefined): string | undefined {
  if (dialect === 'postgres') return 'SHOW default_transaction_isolation';
  if (dialect === 'mariadb' || dialect === 'mysql') return 'SELECT @@SESSION.tx_isolation AS level';
  if (dialect === 'sqlite') return 'PRAGMA journal_mode';
  return undefined;
}

/** Reads (once, in the background) whether `sequelize`'s transactions read from a snapshot by default. */
export function learnDefaultIsolation(sequelize: SequelizeLike): void {
  if (defaults.has(sequelize)) return;
  const known: { snapshot: boolean | undefined } = { snapshot: undefined };
  defaults.set(sequelize, known);
  const dialect = sequelize.getDialect?.() ?? sequelize.options?.dialect;
  const sql = defaultLevelSql(dialect);
  if (!sql) {
    known.snapshot = true;
    return;
  }
  (sequelize as unknown as Queryable).query(sql, { type: 'SELECT', transaction: null, logging: false })
    .then((rows) => {
      const value = String(Object.values((rows as Array<Record<string, unknown>>)[0] ?? {})[0] ?? '');
      known.snapshot = dialect === 'sqlite' ? value.toLowerCase() === 'wal' : snapshotLevel(dialect, value);
    })
    .catch(() => { known.snapshot = true; });
}

/** @internal Does `transaction` (a root transaction) read from a snapshot older than its statements? */
export function readsSnapshot(transaction: TransactionLike): boolean {
  const sequelize = transaction.sequelize;
  if (!sequelize) return true;
  const dialect = sequelize.getDialect?.() ?? sequelize.options?.dialect;
  const level = transaction.options?.isolationLevel;
  // SQLite's isolation is its journal's, whatever level the transaction names.
  if (dialect !== 'sqlite' && typeof level === 'string' && level !== '') return snapshotLevel(dialect, level);
  learnDefaultIsolation(sequelize);
  return defaults.get(sequelize)?.snapshot ?? true;
}
