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

/** @internal Begins a transaction on `connection`. */
export async function beginOn(connection: Connection, dialect: string, log: StatementLog): Promise<void> {
  await run(connection, dialect === 'postgres' ? 'BEGIN' : 'START TRANSACTION', log);
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

/** @internal The rows a SELECT returns on `connection`. */
export async function rawSelect(connection: Connection, dialect: string, sql: string, log: StatementLog): Promise<Array<Record<string, unknown>>> {
  const result = await run(connection, sql, log);
  // pg: a Result with `rows`; mariadb: the rows array itself (with a `meta` property).
  const rows = dialect === 'postgres' ? (result as { rows?: unknown }).rows : result;
  return Array.isArray(rows) ? [...rows] as Array<Record<string, unknown>> : [];
}
