/**
 * Statements sent straight to the driver connection a write runs on: for an autocommit write
 * the one Sequelize acquired for it, so that a locked read and the write share one transaction;
 * in a transaction its connection, which saves the read Sequelize's query machinery (see
 * read-at-write.ts). Only the drivers whose connection API is known here: `pg` and `mariadb`,
 * both promise-based, both queueing what is sent while a query runs.
 * @internal
 */
import { savepointName } from './savepoint.js';

/** A driver connection (pg Client, mariadb Connection). */
export interface Connection {
  query(sql: string): Promise<unknown>;
}

/** Logs a statement as Sequelize would (the write's `logging`, else none). */
export type StatementLog = ((sql: string) => void) | undefined;

/** @internal Can this dialect's connection be given a transaction of our own, and our statements? */
export const supportsRawTransaction = (dialect: string): boolean => dialect === 'postgres' || dialect === 'mariadb';

async function run(connection: Connection, sql: string, log: StatementLog): Promise<unknown> {
  log?.(sql);
  return connection.query(sql);
}

/** @internal Commits the transaction begun on `connection`; rolls it back if the commit fails (then rethrows). */
export async function endOn(connection: Connection, log: StatementLog): Promise<void> {
  try {
    await run(connection, 'COMMIT', log);
  } catch (error) {
    await run(connection, 'ROLLBACK', log).catch(() => undefined);
    throw error;
  }
}

/**
 * @internal The rows a SELECT returns on `connection`; with `begin`, a transaction is begun first,
 * in the same round trip (PostgreSQL: `BEGIN; SELECT …`; MariaDB: pipelined).
 */
export async function rawSelect(connection: Connection, dialect: string, sql: string, log: StatementLog, begin = false): Promise<Array<Record<string, unknown>>> {
  let result: unknown;
  if (begin && dialect !== 'postgres') {
    // Sent together, answered in one round trip where the driver pipelines (mariadb does by
    // default; otherwise it queues the second): a SELECT whose transaction did not begin is not
    // locked, so it fails with it.
    const started = run(connection, 'START TRANSACTION', log);
    const selected = run(connection, sql, log);
    try {
      await started;
    } catch (error) {
      await selected.catch(() => undefined);
      throw error;
    }
    result = await selected;
  } else {
    result = await run(connection, begin && dialect === 'postgres' ? `BEGIN; ${sql}` : sql, log);
  }
  // pg: a Result with `rows` (an array of them for several statements); mariadb: the rows array itself.
  const last = Array.isArray(result) && dialect === 'postgres' ? result[result.length - 1] : result;
  const rows = dialect === 'postgres' ? (last as { rows?: unknown } | undefined)?.rows : last;
  return Array.isArray(rows) ? [...rows] as Array<Record<string, unknown>> : [];
}

/**
 * @internal The rows a SELECT returns on the connection of a PostgreSQL transaction, run in a
 * savepoint sent with it as one query (see savepoint.ts: a failed statement would abort the
 * user's transaction, and reads side by side must not interleave their savepoints); a failure
 * rolls back to the savepoint and is rethrown.
 */
export async function rawSelectInSavepoint(connection: Connection, sql: string, log: StatementLog): Promise<Array<Record<string, unknown>>> {
  const name = savepointName();
  try {
    const results = await run(connection, `SAVEPOINT ${name}; ${sql.replace(/;\s*$/, '')}; RELEASE SAVEPOINT ${name}`, log);
    // pg: one Result per statement; the SELECT's is the second.
    const rows = Array.isArray(results) ? (results[1] as { rows?: unknown } | undefined)?.rows : undefined;
    return Array.isArray(rows) ? [...rows] as Array<Record<string, unknown>> : [];
  } catch (error) {
    await run(connection, `ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`, log).catch(() => undefined);
    throw error;
  }
}
