/**
 * The row an instance write changes, as the database holds it: read by primary key right before
 * the write's statement, locked (read-at-write.ts), and right after it. The instance's own
 * idea of its row can be stale (loaded before another request's commit) or lost (a field set
 * twice: `set()` moves the in-memory value into `_previousDataValues`), and it never knows the
 * columns the database computes; the hooks invalidate both what the instance believes and what
 * the database held (wider, never stale).
 * @internal
 */
import { PrequeryError } from '../errors.js';
import { byAttribute, primaryKeyOf, type ModelMeta } from './meta.js';
import { modelName, type HookOptions, type InstanceLike, type TransactionLike } from './model.js';
import { transactionOf } from './transactions.js';
import { ArmedRead, armRead, byField, selectSql, type WriteType } from './read-at-write.js';
import { selectInSavepoint } from './savepoint.js';
import { isPlain } from './where.js';
import type { WriteContext } from './write-paths/context.js';

/** What a read gave: the row (attribute-keyed), `null` when there is none, `'failed'` when it could not be read. */
export type DatabaseRow = Record<string, unknown> | null | 'failed';

/** registration -> the write's options object -> instance -> the read armed for its write */
const before = new WeakMap<WriteContext, WeakMap<object, Map<object, ArmedRead | 'failed'>>>();

/** The statements of an instance write: an UPDATE (a soft delete and a restore too) or a DELETE. */
const INSTANCE_WRITES = new Set<WriteType>(['UPDATE', 'DELETE']);

type Queryable = { query(sql: string, options: object): Promise<unknown> };
type Row = Record<string, unknown>;

/**
 * Reads the taggable columns of the row `where` selects, in the write's transaction (on
 * PostgreSQL in a savepoint sent with the read as one query, since a failed statement would abort
 * the user's transaction, and reads running side by side must not interleave their savepoints).
 * A failure is emitted as a PrequeryError and reported as `'failed'`.
 * @internal
 */
export async function readRow(ctx: WriteContext, meta: ModelMeta, where: Record<string, unknown>, options: HookOptions): Promise<DatabaseRow> {
  if (meta.primaryKey.length === 0 || Object.values(where).some((v) => v === undefined || v === null || !isPlain(v))) return 'failed';
  const transaction: TransactionLike | undefined = transactionOf(ctx.sequelize, options);
  const sql = selectSql(ctx, meta, byField(meta, where), 1, false);
  const logging = { logging: options.logging, benchmark: options.benchmark };
  try {
    const rows = transaction && ctx.dialect() === 'postgres'
      ? await selectInSavepoint(ctx.sequelize, transaction, sql, logging)
      : await (ctx.sequelize as unknown as Queryable).query(sql, { transaction: transaction ?? null, type: 'SELECT', raw: true, ...logging }) as Row[];
    return rows[0] ? byAttribute(meta, rows[0]) : null;
  } catch (error) {
    ctx.emitError(new PrequeryError(modelName(meta.model), { cause: error }));
    return 'failed';
  }
}

/**
 * Before an instance write: arms the read of its row by primary key, run locked right before the
 * write's statement (read-at-write.ts). An instance with nothing to save sends no statement, and
 * then nothing is read.
 * @internal
 */
export function readBefore(ctx: WriteContext, meta: ModelMeta, instance: InstanceLike, options: HookOptions): void {
  if (!options || typeof options !== 'object') return;
  const where = primaryKeyOf(instance, meta);
  let read: ArmedRead | 'failed' = 'failed';
  if (meta.primaryKey.length > 0 && Object.values(where).every((v) => v !== undefined && v !== null && isPlain(v))) {
    read = armRead(options, new ArmedRead(ctx, meta, where, INSTANCE_WRITES, 1, instance));
  }
  let byOptions = before.get(ctx);
  if (!byOptions) before.set(ctx, (byOptions = new WeakMap()));
  let byInstance = byOptions.get(options);
  if (!byInstance) byOptions.set(options, (byInstance = new Map()));
  byInstance.set(instance, read);
}

/** After the write: the row `readBefore` read for this write of `instance` (taken once); undefined when none was read. */
export function takeBefore(ctx: WriteContext, instance: InstanceLike, options: HookOptions): DatabaseRow | undefined {
  const byInstance = options && typeof options === 'object' ? before.get(ctx)?.get(options) : undefined;
  if (!byInstance?.has(instance)) return undefined;
  const read = byInstance.get(instance)!;
  byInstance.delete(instance);
  if (read === 'failed') return 'failed';
  const rows = read.result;
  if (rows === undefined) return undefined;
  return Array.isArray(rows) ? rows[0] ?? null : 'failed';
}

/** How long a table's answer to "does the database compute columns on update?" is kept (a migration may change it). */
const COMPUTED_MAX_AGE = 60_000;

/** Sequelize instance -> table -> whether the database may compute columns of its rows on update, and when that was read. */
const computed = new WeakMap<object, Map<string, { computes: boolean; readAt: number; reading?: Promise<void> }>>();

/** The catalog query telling whether `table` has generated columns, ON UPDATE columns or triggers (one row, `n`). */
function computedSql(dialect: string | undefined, table: string, quote: (s: string) => string): string | undefined {
  const dot = table.indexOf('.');
  const [schema, name] = dot >= 0 ? [table.slice(0, dot), table.slice(dot + 1)] : [undefined, table];
  if (dialect === 'postgres') {
    const rel = `to_regclass(${quote(`${schema ? `"${schema.replace(/"/g, '""')}".` : ''}"${name.replace(/"/g, '""')}"`)})`;
    return `SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = ${rel} AND attnum > 0 AND attgenerated <> '') + (SELECT count(*) FROM pg_trigger WHERE tgrelid = ${rel} AND NOT tgisinternal) + (SELECT count(*) FROM pg_rewrite WHERE ev_class = ${rel} AND rulename <> '_RETURN') AS n`;
  }
  if (dialect === 'mariadb' || dialect === 'mysql') {
    const db = schema ? quote(schema) : 'DATABASE()';
    return `SELECT (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${db} AND TABLE_NAME = ${quote(name)} AND (IS_GENERATED <> 'NEVER' OR EXTRA LIKE '%on update%')) + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ${db} AND EVENT_OBJECT_TABLE = ${quote(name)}) AS n`;
  }
  if (dialect === 'sqlite') {
    return `SELECT (SELECT COUNT(*) FROM pragma_table_xinfo(${quote(name)}) WHERE hidden IN (2, 3)) + (SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ${quote(name)}) AS n`;
  }
  return undefined;
}

/**
 * May the database compute columns of `meta`'s rows on update (generated columns, ON UPDATE
 * columns, triggers, rules)? Read from the catalog in the background, on a connection of its own,
 * so that no write waits for it (a pool of one held by the write's transaction cannot deadlock);
 * until it is known, and when it cannot be read, the answer is yes: the row is read back.
 */
function mayCompute(ctx: WriteContext, meta: ModelMeta): boolean {
  let byTable = computed.get(ctx.sequelize);
  if (!byTable) computed.set(ctx.sequelize, (byTable = new Map()));
  let known = byTable.get(meta.table);
  if (!known) byTable.set(meta.table, (known = { computes: true, readAt: 0 }));
  if (!known.reading && Date.now() - known.readAt > COMPUTED_MAX_AGE) {
    const entry = known;
    const sequelize = ctx.sequelize as unknown as Queryable & { escape(v: string): string };
    const sql = computedSql(ctx.dialect(), meta.table, (v) => sequelize.escape(v));
    entry.readAt = Date.now();
    if (sql) {
      entry.reading = sequelize.query(sql, { transaction: null, type: 'SELECT', logging: false, hooks: false })
        .then((rows) => { entry.computes = Number((rows as Array<{ n: unknown }>)[0]?.n) !== 0; })
        .catch(() => { entry.computes = true; })
        .finally(() => { entry.reading = undefined; entry.readAt = Date.now(); });
    }
  }
  return known.computes;
}

/**
 * After the write: the row as the database now holds it (columns it computes included), read in
 * the write's transaction, by the instance's current primary key; undefined (not read) when the
 * table's columns are all the instance's to write.
 * @internal
 */
export async function readAfter(ctx: WriteContext, meta: ModelMeta, instance: InstanceLike, options: HookOptions): Promise<DatabaseRow | undefined> {
  if (!mayCompute(ctx, meta)) return undefined;
  const where: Record<string, unknown> = {};
  for (const attribute of meta.primaryKey) where[attribute] = instance.get(attribute, { raw: true });
  return readRow(ctx, meta, where, options);
}
