/**
 * A read inside a PostgreSQL transaction that must not break it: PostgreSQL aborts a transaction
 * at its first failed statement, so the read runs in a savepoint rolled back on failure, sent
 * with it as one query so that reads running side by side on the transaction's connection never
 * interleave their savepoints. The savepoint has a name of its own: Sequelize names a nested transaction after its parent's
 * savepoint count, which can repeat a name the user's own savepoint has (it never releases
 * them), and the user's `ROLLBACK TO` would then stop at ours and keep writes it should undo.
 * @internal
 */
import type { TransactionLike } from './model.js';

type Queryable = { query(sql: string, options: object): Promise<unknown> };

let savepoints = 0;

/** @internal A fresh savepoint name, never one Sequelize or the user would pick. */
export const savepointName = (): string => `keyv_clever_${++savepoints}`;

/**
 * @internal Runs the SELECT `sql` in a savepoint of `transaction`, sent with it as one
 * multi-statement query (one round trip); a failure rolls back to the savepoint and is rethrown.
 */
export async function selectInSavepoint(sequelize: unknown, transaction: TransactionLike, sql: string, options: { logging?: unknown; benchmark?: unknown }): Promise<Array<Record<string, unknown>>> {
  const db = sequelize as Queryable;
  const name = savepointName();
  const run = (statements: string, type?: string) => db.query(statements, { transaction, type, logging: options.logging, benchmark: options.benchmark, hooks: false });
  try {
    return await run(`SAVEPOINT ${name}; ${sql.replace(/;\s*$/, '')}; RELEASE SAVEPOINT ${name}`, 'SELECT') as Array<Record<string, unknown>>;
  } catch (error) {
    await run(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`).catch(() => undefined);
    throw error;
  }
}
