/**
 * The rows a write changes, read at the write. A before hook arms a read on the write's options;
 * a `beforeQuery` hook runs it right before the write's own statement, on the write's own
 * connection, locked (`FOR UPDATE`), so that no commit can slip between the read and the write:
 * what it returns is what the database held when the write ran, whatever the instance in memory
 * says, and whatever committed while the write waited for a row lock.
 *
 * - In a transaction the read runs in it (on PostgreSQL in a savepoint of its own: a failed
 *   statement would abort the user's transaction), sent straight to its connection on PostgreSQL
 *   and MariaDB, as the write's statement will be.
 * - An autocommit write on PostgreSQL or MariaDB is wrapped in a transaction on its own
 *   connection, begun here and ended by `afterQuery`, which Sequelize runs whether the statement
 *   succeeded or failed: the lock lasts exactly as long as the write.
 * - SQLite locks the whole database for a writer; there the read is not locked.
 *
 * A read that fails is reported (PrequeryError) and its write widened; the write itself goes on.
 * @internal
 */
import { PrequeryError } from '../errors.js';
import { byAttribute, type ModelMeta } from './meta.js';
import { modelName, type HookOptions, type TransactionLike } from './model.js';
import { endOn, rawSelect, rawSelectInSavepoint, supportsRawTransaction, type Connection, type StatementLog } from './raw-connection.js';
import { selectInSavepoint } from './savepoint.js';
import type { WriteContext } from './write-paths/context.js';

type Row = Record<string, unknown>;
type Queryable = { query(sql: string, options: object): Promise<unknown> };

/** What an armed read found: the rows (attribute-keyed); more than its limit; or nothing usable. */
export type ReadResult = Row[] | 'over' | 'failed';

/** The statement types a write sends (Sequelize's QueryTypes). */
export type WriteType = 'UPDATE' | 'BULKUPDATE' | 'DELETE' | 'BULKDELETE' | 'UPSERT' | 'INSERT';

/** @internal One read armed on a write's options. */
export class ArmedRead {
  /** undefined until the write's statement is sent (a write with nothing to send sends none) */
  result: ReadResult | undefined;

  constructor(
    readonly ctx: WriteContext,
    readonly meta: ModelMeta,
    /** the rows to read, attribute-keyed equalities (or `{ [Op.or]: [...] }` of them); undefined: the write's own where */
    readonly where: Record<string | symbol, unknown> | undefined,
    readonly types: ReadonlySet<WriteType>,
    readonly limit: number,
    /** the instance whose statement this is for (instance writes); undefined: any statement of the write */
    readonly instance?: object,
    /** the attributes to read (see read-columns.ts); undefined: every taggable one */
    readonly columns?: Promise<ReadonlySet<string> | undefined>,
  ) {}
}

/**
 * The reads armed on one write. A class instance, not a plain object: Sequelize deep-clones the
 * options it hands down to the query, and shares class instances instead of copying them.
 */
class ArmedReads {
  readonly reads: ArmedRead[] = [];
}

// Not Symbol.for: a second copy of the library (ESM beside CommonJS) arms its reads apart.
const ARMED = Symbol('keyv-clever.read-at-write');
const OR = Symbol.for('or');

/** query (as Sequelize hands it to both query hooks) -> the connection a transaction was begun on for it, and by whom */
const begun = new WeakMap<object, { connection: Connection; log: StatementLog; by: WriteContext }>();

/** registration -> how many transactions it began are still open, and what waits for none to be */
const open = new WeakMap<WriteContext, { count: number; waiting: Array<() => void> }>();

function opened(ctx: WriteContext): void {
  let state = open.get(ctx);
  if (!state) open.set(ctx, (state = { count: 0, waiting: [] }));
  state.count++;
}

function closed(ctx: WriteContext): void {
  const state = open.get(ctx);
  if (!state || --state.count > 0) return;
  for (const run of state.waiting.splice(0)) run();
}

/**
 * Runs `fn` once no transaction `ctx` began for an autocommit write is open: unregistering waits
 * with the hook that ends them, or a write in flight would keep its transaction (and its row
 * locks) open for good.
 * @internal
 */
export function whenNoneOpen(ctx: WriteContext, fn: () => void): void {
  const state = open.get(ctx);
  if (!state || state.count === 0) fn();
  else state.waiting.push(fn);
}

/** Statements we send straight to a connection are logged as Sequelize logs its own. */
function statementLog(ctx: WriteContext, logging: unknown): StatementLog {
  const log = logging === undefined ? (ctx.sequelize.options as { logging?: unknown } | undefined)?.logging : logging;
  return typeof log === 'function' ? (sql: string) => (log as (line: string) => void)(`Executing (default): ${sql}`) : undefined;
}

/** @internal Arms `read` on `options`: it runs right before the write's statement. */
export function armRead(options: HookOptions, read: ArmedRead): ArmedRead {
  let armed = options[ARMED as never] as ArmedReads | undefined;
  if (!(armed instanceof ArmedReads)) {
    armed = new ArmedReads();
    Object.defineProperty(options, ARMED, { value: armed, enumerable: true, configurable: true, writable: true });
  }
  armed.reads.push(read);
  return read;
}

/** @internal The attribute-keyed condition with column names, as a raw `selectQuery` takes it. */
export function byField(meta: ModelMeta, where: unknown): unknown {
  if (Array.isArray(where)) return where.map((w) => byField(meta, w));
  if (!where || typeof where !== 'object') return where;
  const out: Record<string | symbol, unknown> = {};
  for (const [key, value] of Object.entries(where)) out[meta.columns.get(key)?.field ?? key] = value;
  const or = (where as Record<symbol, unknown>)[OR];
  if (or !== undefined) out[OR] = byField(meta, or);
  return out;
}

type Generator = { selectQuery(table: unknown, options: object, model: unknown): string };

/**
 * The SELECT of the taggable columns (those of `only`, if given) of the rows `where`
 * (column-keyed) selects, at most `limit + 1`.
 */
export function selectSql(ctx: WriteContext, meta: ModelMeta, where: unknown, limit: number, lock: boolean, only?: ReadonlySet<string>): string {
  const generator = (ctx.sequelize as unknown as { getQueryInterface(): { queryGenerator: Generator } }).getQueryInterface().queryGenerator;
  const model = meta.model as unknown as { getTableName(): unknown };
  const attributes = meta.taggable.filter((a) => !only || only.has(a)).map((a) => [meta.columns.get(a)!.field, a]);
  return generator.selectQuery(model.getTableName(), { attributes, where, limit: limit + 1, lock }, meta.model);
}

/**
 * The `beforeQuery` hook: runs the reads armed for this statement (claimed first, so a retried
 * statement does not read twice).
 * @internal
 */
export async function readAtWrite(ctx: WriteContext, options: HookOptions, query: { connection?: unknown } | undefined): Promise<void> {
  const armed = options?.[ARMED as never] as ArmedReads | undefined;
  if (!(armed instanceof ArmedReads) || !query) return;
  const type = String(options.type ?? '').toUpperCase() as WriteType;
  const due = armed.reads.filter((r) => r.ctx === ctx && r.result === undefined && r.types.has(type)
    && (r.instance === undefined || options.instance === undefined || r.instance === options.instance));
  if (due.length === 0) return;
  for (const r of due) r.result = 'failed';
  const dialect = ctx.dialect() ?? '';
  const transaction = (options.transaction ?? undefined) as TransactionLike | undefined;
  const lock = dialect !== 'sqlite';
  const connection = query.connection as Connection | undefined;
  const log = statementLog(ctx, options.logging);
  // An autocommit write on a dialect we can begin a transaction for: it is begun with the first
  // read (ended by `endReadAtWrite`, which the failure path below calls too).
  const raw = !transaction && lock && connection !== undefined && supportsRawTransaction(dialect);
  // In a transaction: straight to its connection too, which the write's statement queues behind.
  const rawInTransaction = transaction !== undefined && connection !== undefined && supportsRawTransaction(dialect);
  let begin = false;
  if (raw && !begun.has(query)) {
    begun.set(query, { connection, log, by: ctx });
    opened(ctx);
    begin = true;
  }
  for (const r of due) {
    try {
      const where = r.where === undefined ? options.where : byField(r.meta, r.where);
      const only = r.columns ? await r.columns : undefined;
      const sql = selectSql(ctx, r.meta, where ?? {}, r.limit, lock && (transaction !== undefined || raw), only);
      const rows = raw
        ? await rawSelect(connection!, dialect, sql, log, begin)
        : rawInTransaction
          ? dialect === 'postgres' ? await rawSelectInSavepoint(connection!, sql, log) : await rawSelect(connection!, dialect, sql, log)
          : transaction && dialect === 'postgres'
            ? await selectInSavepoint(ctx.sequelize, transaction, sql, { logging: options.logging, benchmark: options.benchmark })
            : await (ctx.sequelize as unknown as Queryable).query(sql, { transaction: transaction ?? null, type: 'SELECT', raw: true, logging: options.logging, benchmark: options.benchmark }) as Row[];
      begin = false;
      r.result = rows.length > r.limit ? 'over' : rows.map((row) => byAttribute(r.meta, row));
    } catch (error) {
      ctx.emitError(new PrequeryError(modelName(r.meta.model), { cause: error }));
      if (raw) {
        // Our transaction may be aborted (PostgreSQL): end it, so that the write runs on its own
        // as it would have; none of this statement's reads is locked any more.
        const mine = begun.get(query);
        begun.delete(query);
        await endOn(connection!, log).catch(() => undefined);
        if (mine) closed(mine.by);
        for (const d of due) d.result = 'failed';
        return;
      }
      r.result = 'failed';
    }
  }
}

/**
 * The `afterQuery` hook: ends the transaction `readAtWrite` began for this statement (a COMMIT
 * after a failed statement commits nothing of it: PostgreSQL rolls the aborted transaction back,
 * InnoDB has already undone the statement).
 * @internal
 */
export async function endReadAtWrite(ctx: WriteContext, query: object | undefined): Promise<void> {
  const ending = query ? begun.get(query) : undefined;
  if (!ending) return;
  begun.delete(query!);
  try {
    await endOn(ending.connection, ending.log);
  } catch (error) {
    ctx.emitError(error);
  } finally {
    closed(ending.by);
  }
}
