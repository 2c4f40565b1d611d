/**
 * Statements sent straight to the driver connection Sequelize acquired for an autocommit write,
 * so that a locked read and the write share one transaction (see read-at-write.ts). Only the
 * drivers whose connection API is known here: `pg` and `mariadb`, both promise-based.
 * @internal
 */

/** A driver connection (pg Client, mariadb Connection). */
export interface Connection {
  query(sql: string): Promise<unknown>;
}

/** Logs a statement as Sequelize would (the write's `logging`, else none). */
export type StatementLog = ((sql: string) => void) | undefined;

/** @internal Can this dialect's connection be given a transaction of our own? */
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
 * @internal The rows a SELECT returns on `connection`; with `begin`, a transaction is begun first
 * (on PostgreSQL in the same round trip: `BEGIN; SELECT …`).
 */
export async function rawSelect(connection: Connection, dialect: string, sql: string, log: StatementLog, begin = false): Promise<Array<Record<string, unknown>>> {
  if (begin && dialect !== 'postgres') await run(connection, 'START TRANSACTION', log);
  const result = await run(connection, begin && dialect === 'postgres' ? `BEGIN; ${sql}` : sql, log);
  // pg: a Result with `rows` (an array of them for several statements); mariadb: the rows array itself.
  const last = Array.isArray(result) && dialect === 'postgres' ? result[result.length - 1] : result;
  const rows = dialect === 'postgres' ? (last as { rows?: unknown } | undefined)?.rows : last;
  return Array.isArray(rows) ? [...rows] as Array<Record<string, unknown>> : [];
}
