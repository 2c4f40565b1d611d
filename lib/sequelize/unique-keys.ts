/**
 * The unique keys MariaDB/MySQL declare on a table. `INSERT … ON DUPLICATE KEY UPDATE` (upsert,
 * bulkCreate with updateOnDuplicate) updates the row that collides on any of them, whether the
 * model declares it or only a migration does, so the conflict read must look for all of them.
 * Read from the catalog in the background, on a connection of its own, per Sequelize instance
 * and table, and trusted for `UNIQUE_KEYS_MAX_AGE`; when it cannot be known in time the write is
 * widened to the whole table.
 * @internal
 */
import { CATALOG_WAIT, withDeadline } from './deadline.js';
import type { ModelMeta } from './meta.js';
import type { WriteContext } from './write-paths/context.js';

type Queryable = { query(sql: string, options: object): Promise<unknown> };

/** How long a table's unique keys are trusted before they are read again (a migration may change them). */
const UNIQUE_KEYS_MAX_AGE = 60_000;

/** What the catalog says: the keys (attribute lists), or that one of them has a column the model lacks. */
export type UniqueKeys = string[][] | 'unmatchable';

interface Known {
  keys?: UniqueKeys;
  readAt: number;
  reading?: Promise<void>;
}

/** Sequelize instance -> table -> its unique keys */
const known = new WeakMap<object, Map<string, Known>>();

/** @internal Does this dialect's upsert fire on any unique key (not on a conflict target it names)? */
export const upsertsOnAnyUniqueKey = (dialect: string | undefined): boolean => dialect === 'mariadb' || dialect === 'mysql';

/** Reads the unique keys of `meta`'s table into `entry`. */
function read(ctx: WriteContext, meta: ModelMeta, entry: Known): Promise<void> {
  const sequelize = ctx.sequelize as unknown as Queryable & { escape(v: string): string };
  const dot = meta.table.indexOf('.');
  const [schema, name] = dot >= 0 ? [sequelize.escape(meta.table.slice(0, dot)), meta.table.slice(dot + 1)] : ['DATABASE()', meta.table];
  const sql = 'SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS'
    + ` WHERE TABLE_SCHEMA = ${schema} AND TABLE_NAME = ${sequelize.escape(name)} AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`;
  return sequelize.query(sql, { type: 'SELECT', transaction: null, logging: false, hooks: false })
    .then((rows) => {
      const byIndex = new Map<string, string[]>();
      let unmatchable = false;
      for (const row of rows as Array<{ name: string; col: string }>) {
        const attribute = meta.byField.get(row.col);
        if (attribute === undefined) unmatchable = true;
        else byIndex.set(row.name, [...(byIndex.get(row.name) ?? []), attribute]);
      }
      entry.keys = unmatchable ? 'unmatchable' : [...byIndex.values()];
    })
    .catch((error: unknown) => {
      entry.keys = undefined;
      ctx.emitError(error);
    })
    .finally(() => {
      entry.reading = undefined;
      entry.readAt = Date.now();
    });
}

/**
 * The unique keys of `meta`'s table as the database declares them. The first write on a table
 * waits for them (up to `CATALOG_WAIT`; undefined past it, or when they cannot be read); a read
 * older than `UNIQUE_KEYS_MAX_AGE` is refreshed in the background while it still answers.
 * @internal
 */
export async function databaseUniqueKeys(ctx: WriteContext, meta: ModelMeta): Promise<UniqueKeys | undefined> {
  let byTable = known.get(ctx.sequelize);
  if (!byTable) known.set(ctx.sequelize, (byTable = new Map()));
  let entry = byTable.get(meta.table);
  if (!entry) byTable.set(meta.table, (entry = { readAt: 0 }));
  if (!entry.reading && Date.now() - entry.readAt > UNIQUE_KEYS_MAX_AGE) entry.reading = read(ctx, meta, entry);
  if (entry.keys === undefined && entry.reading) await withDeadline(entry.reading, CATALOG_WAIT).catch(() => undefined);
  return entry.keys;
}
