/**
 * The row an instance write changes, as the database holds it: read by primary key right before
 * the write (locked when the write runs in a transaction) and right after it. The instance's own
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
import { savepointName } from './savepoint.js';
import { isPlain } from './where.js';
import type { WriteContext } from './write-paths/context.js';

/** What a read gave: the row (attribute-keyed), `null` when there is none, `'failed'` when it could not be read. */
export type DatabaseRow = Record<string, unknown> | null | 'failed';

/** registration -> the write's options object -> instance -> its row read before the write */
const before = new WeakMap<WriteContext, WeakMap<object, Map<object, DatabaseRow>>>();

type Queryable = { query(sql: string, options: object): Promise<unknown> };
type Row = Record<string, unknown>;
type Quoting = { quoteIdentifier(s: string): string; quoteTable(t: unknown): string };
type RawSequelize = Queryable & { escape(v: unknown): string; getQueryInterface(): { queryGenerator: Quoting } };

/**
 * PostgreSQL, in a transaction: the read inside a savepoint of its own (see savepoint.ts), sent
 * with it as one multi-statement query (one round trip).
 */
async function readInSavepoint(ctx: WriteContext, meta: ModelMeta, where: Record<string, unknown>, transaction: TransactionLike, options: HookOptions, lock: boolean): Promise<Row[]> {
  const sequelize = ctx.sequelize as unknown as RawSequelize;
  const qi = sequelize.getQueryInterface().queryGenerator;
  const column = (attribute: string) => qi.quoteIdentifier(meta.columns.get(attribute)!.field);
  const select = `SELECT ${meta.taggable.map((a) => `${column(a)} AS ${qi.quoteIdentifier(a)}`).join(', ')}`
    + ` FROM ${qi.quoteTable((meta.model as unknown as { getTableName(): unknown }).getTableName())}`
    + ` WHERE ${Object.entries(where).map(([a, v]) => `${column(a)} = ${sequelize.escape(v)}`).join(' AND ')} LIMIT 1${lock ? ' FOR UPDATE' : ''}`;
  const name = savepointName();
  const run = (sql: string, type?: string) => sequelize.query(sql, { transaction, type, logging: options.logging, benchmark: options.benchmark, hooks: false });
  try {
    return await run(`SAVEPOINT ${name}; ${select}; RELEASE SAVEPOINT ${name}`, 'SELECT') as Row[];
  } catch (error) {
    await run(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`).catch(() => undefined);
    throw error;
  }
}

/**
 * Reads the taggable columns of the row `where` selects. In a transaction the read is locked
 * (`FOR UPDATE`; SQLite serialises writers), so that no other commit can change the row between
 * this read and the write; on PostgreSQL it runs in a savepoint, since a failed statement would
 * abort the user's transaction. A failure is emitted as a PrequeryError and reported as `'failed'`.
 */
async function readRow(ctx: WriteContext, meta: ModelMeta, where: Record<string, unknown>, options: HookOptions, lock: boolean): Promise<DatabaseRow> {
  if (meta.primaryKey.length === 0 || Object.values(where).some((v) => v === undefined || v === null || !isPlain(v))) return 'failed';
  const transaction: TransactionLike | undefined = transactionOf(ctx.sequelize, options);
  const dialect = ctx.dialect();
  const read = (t: unknown) => meta.model.unscoped().findAll({
    where,
    attributes: meta.taggable,
    raw: true,
    limit: 1,
    transaction: t ?? null,
    paranoid: false,
    lock: lock && transaction !== undefined && dialect !== 'sqlite',
    hooks: false,
    logging: options.logging,
    benchmark: options.benchmark,
  });
  try {
    const rows = transaction && dialect === 'postgres' ? await readInSavepoint(ctx, meta, where, transaction, options, lock) : await read(transaction);
    return rows[0] ? byAttribute(meta, rows[0]) : null;
  } catch (error) {
    ctx.emitError(new PrequeryError(modelName(meta.model), { cause: error }));
    return 'failed';
  }
}

/**
 * Before an instance write: reads and keeps the row as the database holds it (locked in the
 * write's transaction). An instance with nothing to save costs no read.
 * @internal
 */
export async function readBefore(ctx: WriteContext, meta: ModelMeta, instance: InstanceLike, options: HookOptions): Promise<void> {
  if (!options || typeof options !== 'object') return;
  const row = await readRow(ctx, meta, primaryKeyOf(instance, meta), options, true);
  let byOptions = before.get(ctx);
  if (!byOptions) before.set(ctx, (byOptions = new WeakMap()));
  let byInstance = byOptions.get(options);
  if (!byInstance) byOptions.set(options, (byInstance = new Map()));
  byInstance.set(instance, row);
}

/** After the write: the row `readBefore` kept for this write of `instance` (taken once); undefined when none was read. */
export function takeBefore(ctx: WriteContext, instance: InstanceLike, options: HookOptions): DatabaseRow | undefined {
  const byInstance = options && typeof options === 'object' ? before.get(ctx)?.get(options) : undefined;
  if (!byInstance?.has(instance)) return undefined;
  const row = byInstance.get(instance)!;
  byInstance.delete(instance);
  return row;
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
  return readRow(ctx, meta, where, options, false);
}
