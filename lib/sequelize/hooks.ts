/**
 * `registerSequelizeHooks(sequelize, keyv)`: invalidates cached entries whenever Sequelize writes
 * the rows they depend on — exactly (the old and new values of every changed row, matched against
 * the schemes cached entries use), at commit time (once, after the root transaction commits;
 * never for a rollback), and without ever failing the user's write.
 *
 * Write paths (sequelize 6.37, see DESIGN §5):
 * - instance create / update / destroy / restore: the instance hooks give the row's old values
 *   (`_previousDataValues`, or a snapshot taken in the before hook) and new values;
 * - Model.update / destroy / restore with a where: the before hook pre-queries the rows the where
 *   matches (same transaction, at most `prequeryLimit`; more: the whole table), the after hook
 *   turns them into old and new row images; hasMany add/remove/set and belongsToMany
 *   add/remove/set are such bulk writes;
 * - bulkCreate: the rows inserted (ids trusted only for plain inserts); with updateOnDuplicate the
 *   conflicting rows are pre-queried; upsert likewise;
 * - anything else that writes with a model but without its hooks (increment, `hooks: false`,
 *   queryInterface.bulk*, raw SQL naming a table) is caught by an `afterQuery` safety net that
 *   invalidates the whole table.
 */
import { encodeRow, type CompiledDependencies, type Invalidation, type RowImage } from '../dependencies.js';
import { internalsOf, type StoreInternals } from '../store/internal.js';
import { conjunctionTag, escape } from '../tags.js';
import { registeredSequelizes, trackRegistration } from './kind.js';
import { registerTransactionWrites } from '../read-through.js';
import {
  attributeOf, byAttribute, describe, isInstance, isModel, isSequelize, metaOf, modelName,
  rowImage, tableOf, type AttributeLike, type InstanceLike, type ModelLike, type ModelMeta,
  type SequelizeLike, type TransactionLike,
} from './model.js';
import { writtenTables } from './sql.js';

export interface SequelizeHooksOptions {
  /**
   * Most rows a bulk write (Model.update/destroy/restore with a where, bulkCreate with
   * updateOnDuplicate, upsert) pre-queries for their old values. A write that touches more is
   * invalidated from what its where pins by equality (`{ authorId: 7 }`) and its new values:
   * exact for schemes made of those fields, every entry of the other schemes of the table (the
   * whole table when the where pins nothing). Default 1000; 0 never pre-queries.
   */
  prequeryLimit?: number;
  /**
   * Most distinct row images collected for one table before a flush (a long transaction); beyond
   * that the whole table is invalidated at commit. Default 10000.
   */
  maxRowImages?: number;
  /**
   * Invalidate the tables that the database changes on its own through the foreign keys declared
   * in the models (ON DELETE / ON UPDATE CASCADE, SET NULL, SET DEFAULT; TRUNCATE … CASCADE),
   * as whole tables. Default true.
   */
  cascades?: boolean;
  /**
   * The afterQuery safety net: a write that carries a model but ran without model hooks
   * (increment/decrement, `hooks: false`, queryInterface.bulkUpdate) invalidates the whole table.
   * Default true.
   */
  safetyNet?: boolean;
  /**
   * Also let the safety net read the target table of queries without a model (queryInterface
   * bulkInsert/bulkDelete, `sequelize.query('UPDATE posts …')`): INSERT INTO, UPDATE, DELETE FROM,
   * TRUNCATE, DROP TABLE. Best effort; writes it cannot see need `store.invalidate`. Default true.
   */
  rawQueries?: boolean;
}

export interface SequelizeHooks {
  /** Removes every hook this registration added. Safe to call more than once. */
  unregister(): void;
  /** The unique name the hooks are registered under. */
  readonly name: string;
}

type Change = { tables?: Iterable<string>; images?: Iterable<RowImage> };
type Hook = (...args: never[]) => unknown;
type Options = Record<string, unknown> & { transaction?: TransactionLike | null; model?: unknown };

const OR = Symbol.for('or');
const WRITE_TYPES = new Set(['INSERT', 'UPDATE', 'BULKUPDATE', 'BULKDELETE', 'DELETE', 'UPSERT']);
const CASCADING_ACTIONS = new Set(['CASCADE', 'SET NULL', 'SET DEFAULT']);

let registrations = 0;

/** The changes collected on each root transaction (one collector per registration). */
const pendingByRoot = new WeakMap<TransactionLike, Set<Collector>>();

/** The root of a (possibly nested: savepoint) transaction. */
export function rootTransaction(transaction: TransactionLike): TransactionLike {
  let t = transaction;
  const seen = new Set<TransactionLike>();
  while (t.parent && !seen.has(t)) {
    seen.add(t);
    t = t.parent;
  }
  return t;
}

/**
 * The canonical names of the tables written so far inside `transaction`'s root transaction by
 * hooked Sequelize writes (empty when none). A value computed inside that transaction from one of
 * these tables holds uncommitted data and should not be cached.
 */
export function tablesWrittenIn(transaction: unknown): string[] {
  if (!transaction || typeof transaction !== 'object') return [];
  const tables = new Set<string>();
  for (const c of pendingByRoot.get(rootTransaction(transaction as TransactionLike)) ?? []) for (const t of c.written()) tables.add(t);
  return [...tables];
}

/** The CLS transaction of the current async context, if a registered Sequelize uses CLS. */
function clsTransaction(): TransactionLike | undefined {
  for (const sequelize of registeredSequelizes()) {
    const t = (sequelize.constructor as { _cls?: { get(key: string): unknown } | null })._cls?.get('transaction');
    if (t && typeof t === 'object') return t as TransactionLike;
  }
  return undefined;
}

// Lets getOrSet() refuse to cache a value computed inside a transaction that has written (not yet
// committed) to one of the value's dependencies.
registerTransactionWrites({
  current: () => clsTransaction(),
  hasWritten(transaction: unknown, deps: CompiledDependencies): boolean {
    if (!transaction || typeof transaction !== 'object') return false;
    const collectors = pendingByRoot.get(rootTransaction(transaction as TransactionLike));
    if (!collectors) return false;
    for (const c of collectors) if (deps.tags.some((tag) => c.touches(tag))) return true;
    return false;
  },
});

/* ------------------------------------------------------------------------------------------ */
/* Collected invalidations                                                                    */
/* ------------------------------------------------------------------------------------------ */

class Collector {
  /** canonical names of the tables changed as a whole (rows unknown) */
  readonly tables = new Set<string>();
  /** table -> distinct encoded row images */
  readonly rows = new Map<string, Map<string, Invalidation['rows'][number]>>();

  constructor(private readonly maxRowImages: number) {}

  add(change: Change): void {
    for (const table of change.tables ?? []) {
      this.tables.add(table);
      this.rows.delete(table);
    }
    for (const image of change.images ?? []) {
      if (this.tables.has(image.table)) continue;
      let encoded: Invalidation['rows'][number];
      try {
        encoded = encodeRow(image);
      } catch {
        // Cannot happen for normalized images; if it does, be conservative.
        this.tables.add(image.table);
        this.rows.delete(image.table);
        continue;
      }
      let byKey = this.rows.get(image.table);
      if (!byKey) this.rows.set(image.table, (byKey = new Map()));
      // Images are built in the model's attribute order, so equal images give equal keys.
      let key = '';
      for (const field in encoded.values) key += `${field}=${encoded.values[field]}&`;
      byKey.set(key, encoded);
      if (byKey.size > this.maxRowImages) {
        this.tables.add(image.table);
        this.rows.delete(image.table);
      }
    }
  }

  get empty(): boolean {
    return this.tables.size === 0 && this.rows.size === 0;
  }

  /** The request for the store: a row image with no values is a change to the whole table. */
  request(): Invalidation {
    const rows: Invalidation['rows'] = [];
    for (const table of this.tables) rows.push({ table, values: {} });
    for (const byKey of this.rows.values()) rows.push(...byKey.values());
    return { tags: [], rows };
  }

  written(): string[] {
    return [...new Set([...this.tables, ...this.rows.keys()])];
  }

  /**
   * Would this change invalidate an entry listed under `tag`? Exact for conjunction tags (built
   * from the row images as the backend would), table tags and per-scheme fallback tags.
   */
  touches(tag: string): boolean {
    const kind = tag.slice(0, 2);
    if (kind !== 't:' && kind !== 'c:' && kind !== 'a:') return false;
    const bar = tag.indexOf('|');
    const escapedTable = bar < 0 ? tag.slice(2) : tag.slice(2, bar);
    for (const table of this.tables) if (escape(table) === escapedTable) return true;
    for (const [table, byKey] of this.rows) {
      if (escape(table) !== escapedTable) continue;
      if (kind === 't:' || byKey.size === 0) return true;
      const fields = kind === 'a:' ? tag.slice(bar + 1).split('&') : tag.slice(bar + 1).split('&').map((p) => p.slice(0, p.indexOf('=')));
      for (const row of byKey.values()) {
        if (fields.some((f) => row.values[f] === undefined)) return true; // the per-scheme fallback
        if (kind === 'c:' && conjunctionTag(table, fields, fields.map((f) => row.values[f]!)) === tag) return true;
      }
    }
    return false;
  }
}

/** State a before-hook hands to its after-hook (keyed by the options object they share). */
interface BulkState {
  model: ModelLike;
  meta: ModelMeta;
  /** invalidate the whole table (over the cap, or the old rows could not be read) */
  whole?: boolean;
  /** pre-queried old rows, attribute-keyed */
  old?: Array<Record<string, unknown>>;
  /** bulkCreate: the values given per record (before the insert), attribute-keyed */
  given?: Array<Record<string, unknown>>;
  /** bulkCreate updateOnDuplicate / upsert: candidate conflict keys (attribute lists) */
  keys?: string[][];
  skip?: boolean;
}

/* ------------------------------------------------------------------------------------------ */
/* Registration                                                                               */
/* ------------------------------------------------------------------------------------------ */

class Registration {
  readonly pending = new WeakMap<TransactionLike, Collector>();
  /** instances whose hookless save (paranoid destroy/restore, row-by-row bulk update) our instance hooks cover */
  readonly covered = new WeakSet<object>();
  /** instance -> its values before a destroy/restore/row-by-row update */
  readonly snapshots = new WeakMap<object, Record<string, unknown>>();
  readonly bulk = new WeakMap<object, BulkState>();
  readonly prequeryLimit: number;
  readonly maxRowImages: number;
  readonly cascades: boolean;
  readonly safetyNet: boolean;
  readonly rawQueries: boolean;

  constructor(
    readonly sequelize: SequelizeLike,
    readonly store: StoreInternals,
    options: SequelizeHooksOptions,
  ) {
    this.prequeryLimit = options.prequeryLimit ?? 1000;
    this.maxRowImages = options.maxRowImages ?? 10_000;
    this.cascades = options.cascades ?? true;
    this.safetyNet = options.safetyNet ?? true;
    this.rawQueries = options.rawQueries ?? true;
  }

  dialect(): string | undefined {
    return (this.sequelize as { getDialect?: () => string }).getDialect?.() ?? this.sequelize.options?.dialect;
  }

  emitError(error: unknown): void {
    this.store.emitError(error);
  }

  /** Wraps a handler: errors are emitted on the store, never thrown into the user's write. */
  guard<A extends unknown[]>(handler: (...args: A) => unknown): (...args: A) => Promise<void> {
    return async (...args: A) => {
      try {
        await handler(...args);
      } catch (error) {
        this.emitError(error);
      }
    };
  }

  /** The transaction a write runs in: explicit `{ transaction }` (null = none), else the CLS one. */
  transactionOf(options: Options | undefined): TransactionLike | undefined {
    if (options && options.transaction !== undefined) return options.transaction ?? undefined;
    const cls = (this.sequelize.constructor as { _cls?: { get(key: string): unknown } | null })._cls;
    const t = cls?.get('transaction');
    return t && typeof t === 'object' ? (t as TransactionLike) : undefined;
  }

  /** Records a change: on the root transaction (flushed after it commits), or flushed now. */
  async record(change: Change, options: Options | undefined): Promise<void> {
    const transaction = this.transactionOf(options);
    if (transaction && typeof transaction.afterCommit === 'function') {
      const root = rootTransaction(transaction);
      if (root.finished === 'rollback') return;
      if (root.finished !== 'commit') {
        let collector = this.pending.get(root);
        if (!collector) {
          collector = new Collector(this.maxRowImages);
          this.pending.set(root, collector);
          const c = collector;
          let all = pendingByRoot.get(root);
          if (!all) pendingByRoot.set(root, (all = new Set()));
          all.add(c);
          root.afterCommit(() => this.guard(async () => {
            pendingByRoot.get(root)?.delete(c);
            await this.flush(c);
          })());
        }
        collector.add(change);
        return;
      }
    }
    const collector = new Collector(this.maxRowImages);
    collector.add(change);
    await this.flush(collector);
  }

  async flush(collector: Collector): Promise<void> {
    if (collector.empty) return;
    await this.store.invalidateOrQueue(collector.request());
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Cascades                                                                                 */
  /* ---------------------------------------------------------------------------------------- */

  /** Models of this Sequelize instance whose foreign keys reference `table`. */
  private referencing(table: string): Array<{ model: ModelLike; attribute: string; def: AttributeLike; key: string | undefined }> {
    const out: Array<{ model: ModelLike; attribute: string; def: AttributeLike; key: string | undefined }> = [];
    for (const model of Object.values(this.sequelize.models ?? {})) {
      if (!isModel(model)) continue;
      for (const [attribute, def] of Object.entries(model.rawAttributes)) {
        const ref = def.references;
        if (!ref) continue;
        const target = typeof ref === 'string' ? ref : ref.model;
        if (target === undefined || canonical(target) !== table) continue;
        out.push({ model, attribute, def, key: typeof ref === 'string' ? undefined : ref.key });
      }
    }
    return out;
  }

  /**
   * Tables the database changes by itself when rows of `table` are deleted / truncated with
   * CASCADE / have a referenced key changed (`changedKeys`: column names, undefined = unknown).
   */
  cascadeTables(table: string, action: 'delete' | 'truncate' | 'update', changedKeys?: Set<string>): Set<string> {
    const out = new Set<string>();
    if (!this.cascades) return out;
    const visit = (t: string, act: 'delete' | 'truncate' | 'update', keys?: Set<string>) => {
      for (const { model, def, key } of this.referencing(t)) {
        const child = tableOf(model);
        let hit = false;
        let childAction: 'delete' | 'truncate' | 'update' | undefined;
        if (act === 'truncate') {
          hit = true;
          childAction = 'truncate';
        } else if (act === 'delete') {
          const rule = (def.onDelete ?? '').toUpperCase();
          hit = CASCADING_ACTIONS.has(rule);
          childAction = rule === 'CASCADE' ? 'delete' : 'update';
        } else {
          const rule = (def.onUpdate ?? '').toUpperCase();
          hit = CASCADING_ACTIONS.has(rule) && (keys === undefined || key === undefined || keys.has(key));
          childAction = 'update';
        }
        if (!hit || out.has(child)) continue;
        out.add(child);
        // The child's rows changed: their own referencing rows may cascade further.
        visit(child, childAction, childAction === 'update' ? new Set([def.field ?? '']) : undefined);
      }
    };
    visit(table, action, changedKeys);
    out.delete(table);
    return out;
  }

  /** Referenced columns whose value differs between an old and a new image (undefined = unknown). */
  changedReferencedColumns(meta: ModelMeta, pairs: Array<[Record<string, unknown>, Record<string, unknown>]>): Set<string> | undefined {
    const referenced = this.referencing(meta.table);
    if (referenced.length === 0) return new Set();
    const changed = new Set<string>();
    for (const { key } of referenced) {
      const attribute = key === undefined ? meta.primaryKey[0] : attributeOf(meta, key);
      if (attribute === undefined) return undefined;
      const field = meta.columns.get(attribute)?.field ?? attribute;
      for (const [before, after] of pairs) {
        if (!(attribute in after)) continue; // not written
        const a = rowImage(meta, before, new Set([attribute])).values[attribute];
        const b = rowImage(meta, after, new Set([attribute])).values[attribute];
        if (a === undefined || b === undefined || encodeRow({ table: '', values: { v: a } }).values.v !== encodeRow({ table: '', values: { v: b } }).values.v) {
          changed.add(field);
        }
      }
    }
    return changed;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Pre-queries                                                                              */
  /* ---------------------------------------------------------------------------------------- */

  async prequery(state: BulkState, where: unknown, options: Options, paranoid: boolean): Promise<void> {
    if (this.prequeryLimit <= 0) {
      state.whole = true;
      return;
    }
    try {
      const base = state.model.unscoped();
      const rows = await base.findAll({
        where,
        attributes: state.meta.taggable,
        raw: true,
        limit: this.prequeryLimit + 1,
        transaction: options.transaction,
        paranoid,
        hooks: false,
        logging: options.logging,
        benchmark: options.benchmark,
      });
      if (rows.length > this.prequeryLimit) state.whole = true;
      else state.old = rows.map((row) => byAttribute(state.meta, row));
    } catch (error) {
      state.whole = true;
      this.emitError(new Error(`keyv-clever: could not read the rows a write to ${modelName(state.model)} changes (the whole table will be invalidated): ${(error as Error).message}`, { cause: error }));
    }
  }

  /** Conflict keys of a model (attribute lists): conflict fields, primary key, unique keys and indexes. */
  conflictKeys(meta: ModelMeta, conflict?: unknown): string[][] {
    const model = meta.model;
    const toAttributes = (fields: Array<string | { name?: string; attribute?: string }>) =>
      fields.map((f) => (typeof f === 'string' ? attributeOf(meta, f) : attributeOf(meta, f.attribute ?? f.name ?? '')));
    const keys: string[][] = [];
    const push = (attrs: Array<string | undefined>) => {
      if (attrs.length > 0 && attrs.every((a): a is string => a !== undefined)) keys.push(attrs as string[]);
    };
    if (Array.isArray(conflict) && conflict.length > 0) {
      push(toAttributes(conflict as string[]));
      return keys;
    }
    if (meta.primaryKey.length > 0) push(meta.primaryKey);
    for (const key of Object.values(model.uniqueKeys ?? {})) if (key.fields?.length) push(toAttributes(key.fields));
    for (const index of model._indexes ?? []) if (index.unique && !index.where && index.fields?.length) push(toAttributes(index.fields));
    return keys;
  }

  /** The pre-query `where` selecting rows that share a complete conflict key with any record. */
  conflictWhere(meta: ModelMeta, keys: string[][], records: Array<Record<string, unknown>>): unknown[] {
    const conditions: unknown[] = [];
    const seen = new Set<string>();
    for (const record of records) {
      for (const key of keys) {
        if (!key.every((a) => record[a] !== undefined && record[a] !== null && isPlain(record[a]))) continue;
        const condition: Record<string, unknown> = {};
        for (const a of key) condition[a] = record[a];
        const id = JSON.stringify(key.map((a) => String(record[a])).concat(key));
        if (seen.has(id)) continue;
        seen.add(id);
        conditions.push(condition);
      }
    }
    return conditions;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Handlers                                                                                 */
  /* ---------------------------------------------------------------------------------------- */

  async afterCreate(instance: InstanceLike, options: Options): Promise<void> {
    if (!isInstance(instance)) return;
    const meta = metaOf(instance.constructor);
    let only: Set<string> | undefined;
    if (Array.isArray(options?.fields) && !options.defaultFields) only = new Set([...(options.fields as string[]), ...meta.primaryKey]);
    await this.record({ images: [rowImage(meta, instance.dataValues, only)] }, options);
  }

  beforeUpdate(instance: InstanceLike, options: Options): void {
    // Model.update({ individualHooks }) may save the rows one by one with hooks off.
    if (!options?.individualHooks || !isInstance(instance)) return;
    this.covered.add(instance);
    this.snapshots.set(instance, { ...instance.dataValues, ...(instance._previousDataValues ?? {}) });
  }

  async afterUpdate(instance: InstanceLike, options: Options): Promise<void> {
    if (!isInstance(instance)) return;
    this.covered.delete(instance);
    const meta = metaOf(instance.constructor);
    const before = this.snapshots.get(instance) ?? { ...instance.dataValues, ...(instance._previousDataValues ?? {}) };
    this.snapshots.delete(instance);
    const written = Array.isArray(options?.fields) ? (options.fields as string[]) : Object.keys(instance.dataValues);
    const after: Record<string, unknown> = { ...before };
    for (const attribute of written) {
      if (Object.prototype.hasOwnProperty.call(instance.dataValues, attribute)) after[attribute] = plainOrUnknown(instance.dataValues[attribute]);
    }
    const tables = new Set<string>();
    if (this.cascades) {
      const changed = this.changedReferencedColumns(meta, [[before, after]]);
      if (changed === undefined || changed.size > 0) for (const t of this.cascadeTables(meta.table, 'update', changed)) tables.add(t);
    }
    await this.record({ tables, images: [rowImage(meta, before), rowImage(meta, after)] }, options);
  }

  beforeDestroyOrRestore(instance: InstanceLike): void {
    if (!isInstance(instance)) return;
    // A paranoid destroy / a restore saves the row with hooks off: covered by our after hook.
    this.covered.add(instance);
    this.snapshots.set(instance, { ...instance.dataValues, ...(instance._previousDataValues ?? {}) });
  }

  async afterDestroyOrRestore(instance: InstanceLike, options: Options, kind: 'destroy' | 'restore'): Promise<void> {
    if (!isInstance(instance)) return;
    this.covered.delete(instance);
    const model = instance.constructor;
    const meta = metaOf(model);
    const before = this.snapshots.get(instance) ?? { ...instance.dataValues, ...(instance._previousDataValues ?? {}) };
    this.snapshots.delete(instance);
    const after: Record<string, unknown> = { ...instance.dataValues };
    const deletedAt = model._timestampAttributes?.deletedAt;
    if (deletedAt && options?.individualHooks) {
      // Model.destroy/restore({ individualHooks }): the instances are not updated by the bulk write.
      if (kind === 'restore') {
        const def = model.rawAttributes[deletedAt] ?? {};
        after[deletedAt] = Object.prototype.hasOwnProperty.call(def, 'defaultValue') ? def.defaultValue : null;
      } else {
        delete after[deletedAt];
      }
    }
    const images = [rowImage(meta, before), rowImage(meta, after)];
    const hard = kind === 'destroy' && (!deletedAt || options?.force === true);
    const tables = hard ? this.cascadeTables(meta.table, 'delete') : new Set<string>();
    await this.record({ tables, images }, options);
  }

  async beforeBulkCreate(instances: InstanceLike[], options: Options): Promise<void> {
    const model = (options?.model ?? instances[0]?.constructor) as ModelLike | undefined;
    if (!isModel(model)) return;
    const meta = metaOf(model);
    const state: BulkState = { model, meta };
    this.bulk.set(options, state);
    if (options.individualHooks) {
      state.skip = true; // every row is saved with its own create hooks
      return;
    }
    const fields = Array.isArray(options.fields) ? new Set(options.fields as string[]) : undefined;
    state.given = instances.map((instance) => {
      const values: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(instance.dataValues ?? {})) if (!fields || fields.has(k)) values[k] = v;
      return withoutGeneratedKeys(meta, values);
    });
    if (options.updateOnDuplicate) {
      if (instances.length > this.prequeryLimit) {
        state.whole = true;
        return;
      }
      state.keys = this.conflictKeys(meta, options.conflictAttributes);
      const conditions = this.conflictWhere(meta, state.keys, state.given);
      if (conditions.length === 0) state.old = [];
      else await this.prequery(state, conditions.length === 1 ? conditions[0] : { [OR]: conditions }, options, false);
    }
  }

  async afterBulkCreate(instances: InstanceLike[], options: Options): Promise<void> {
    const ended = this.endBulk(options);
    if (!ended) return;
    const { state, meta } = ended;
    if (!state || state.whole) return this.record({ tables: [meta.table] }, options);
    const images: RowImage[] = [];
    const plain = !options.ignoreDuplicates && !options.updateOnDuplicate;
    const returnedRows = this.dialect() === 'postgres' && options.returning === true;
    if (plain) {
      // A plain insert: the instances hold the inserted rows, ids included.
      const fields = Array.isArray(options.fields) ? new Set([...(options.fields as string[]), ...meta.primaryKey]) : undefined;
      for (const instance of instances) images.push(rowImage(meta, instance.dataValues ?? {}, fields));
    } else if (returnedRows) {
      // PostgreSQL: `ON CONFLICT … RETURNING *` returns every row inserted or updated, complete,
      // and Sequelize copies them onto the first instances in order. Rows skipped by
      // ignoreDuplicates are not returned (they did not change); instances left without a
      // primary key are the ones no returned row was copied onto.
      for (const instance of instances) {
        const values = instance.dataValues ?? {};
        if (meta.primaryKey.length > 0 && meta.primaryKey.every((a) => values[a] !== undefined && values[a] !== null)) images.push(rowImage(meta, values));
      }
      for (const old of state.old ?? []) images.push(rowImage(meta, old));
    } else {
      // ignoreDuplicates / updateOnDuplicate: the ids Sequelize reports are not to be trusted;
      // use the values given (a generated key is unknown: its schemes fall back to the table).
      for (const given of state.given ?? []) images.push(rowImage(meta, given));
      if (options.updateOnDuplicate) {
        const update = new Set((options.updateOnDuplicate as string[]).map((f) => attributeOf(meta, f) ?? f));
        for (const old of state.old ?? []) {
          images.push(rowImage(meta, old));
          for (const given of state.given ?? []) {
            if (!sharesKey(meta, state.keys ?? [], old, given)) continue;
            const merged: Record<string, unknown> = { ...old };
            for (const a of update) if (a in given) merged[a] = plainOrUnknown(given[a]);
            else delete merged[a]; // set by Sequelize (timestamps): value unknown here
            images.push(rowImage(meta, merged));
          }
        }
      }
    }
    await this.record({ images }, options);
  }

  /**
   * Starts the state of a Model.update / destroy / restore: undefined without a model; marked
   * `skip` with individualHooks, since the instance hooks see every row then.
   */
  private beginBulk(options: Options): BulkState | undefined {
    const model = options?.model;
    if (!isModel(model)) return undefined;
    const state: BulkState = { model, meta: metaOf(model) };
    this.bulk.set(options, state);
    if (options.individualHooks) state.skip = true;
    return state;
  }

  /** Takes the state a before hook left for these options; undefined without a model or with `skip`. */
  private endBulk(options: Options): { state: BulkState | undefined; model: ModelLike; meta: ModelMeta } | undefined {
    const state = this.bulk.get(options);
    this.bulk.delete(options);
    const model = (state?.model ?? options?.model) as ModelLike | undefined;
    if (!isModel(model) || state?.skip) return undefined;
    return { state, model, meta: state?.meta ?? metaOf(model) };
  }

  async beforeBulkUpdate(options: Options): Promise<void> {
    const state = this.beginBulk(options);
    if (!state || state.skip) return;
    // options.where already carries the scope and the paranoid clause (Model.update adds them first).
    await this.prequery(state, options.where, options, false);
  }

  async afterBulkUpdate(options: Options): Promise<void> {
    const ended = this.endBulk(options);
    if (!ended) return;
    const { state, model, meta } = ended;
    const values = (options.attributes ?? {}) as Record<string, unknown>;
    if (!state || state.whole || !state.old) {
      // Rows unknown (over the cap): what the where pins down by equality still holds for every
      // touched row, before (and after, unless written); schemes needing other fields fall back.
      const before = whereEqualities(meta, options.where);
      const after = { ...before };
      for (const [key, value] of Object.entries(values)) {
        const attribute = attributeOf(meta, key);
        if (attribute !== undefined) after[attribute] = plainOrUnknown(value);
      }
      return this.record({ tables: this.cascadeTables(meta.table, 'update'), images: [rowImage(meta, before), rowImage(meta, after)] }, options);
    }
    const images: RowImage[] = [];
    const pairs: Array<[Record<string, unknown>, Record<string, unknown>]> = [];
    for (const old of state.old) {
      const after: Record<string, unknown> = { ...old };
      for (const [key, value] of Object.entries(values)) {
        const attribute = attributeOf(meta, key);
        if (attribute !== undefined) after[attribute] = plainOrUnknown(value);
      }
      images.push(rowImage(meta, old), rowImage(meta, after));
      pairs.push([old, after]);
    }
    const tables = new Set<string>();
    if (this.cascades && pairs.length > 0) {
      const changed = this.changedReferencedColumns(meta, pairs);
      if (changed === undefined || changed.size > 0) for (const t of this.cascadeTables(meta.table, 'update', changed)) tables.add(t);
    }
    await this.record({ tables, images }, options);
  }

  async beforeBulkDestroy(options: Options): Promise<void> {
    const state = this.beginBulk(options);
    if (!state || state.skip) return;
    if (options.truncate) {
      state.whole = true;
      return;
    }
    const soft = Boolean(state.model._timestampAttributes?.deletedAt) && !options.force;
    // A soft delete only touches rows not deleted yet; findAll's paranoid clause says exactly that.
    await this.prequery(state, options.where, options, soft);
  }

  async afterBulkDestroy(options: Options): Promise<void> {
    const ended = this.endBulk(options);
    if (!ended) return;
    const { state, model, meta } = ended;
    const deletedAt = model._timestampAttributes?.deletedAt;
    const soft = Boolean(deletedAt) && !options.force;
    const cascade = soft ? new Set<string>() : this.cascadeTables(meta.table, options.truncate && options.cascade ? 'truncate' : 'delete');
    if (!state || state.whole || !state.old) {
      if (options.truncate) return this.record({ tables: [meta.table, ...cascade] }, options);
      const before = whereEqualities(meta, options.where);
      const after = { ...before };
      if (soft && deletedAt) delete after[deletedAt];
      return this.record({ tables: cascade, images: [rowImage(meta, before), rowImage(meta, after)] }, options);
    }
    const images: RowImage[] = [];
    for (const old of state.old) {
      images.push(rowImage(meta, old));
      if (soft && deletedAt) {
        const after = { ...old };
        delete after[deletedAt]; // set to "now" by Sequelize: unknown here
        images.push(rowImage(meta, after));
      }
    }
    await this.record({ tables: cascade, images }, options);
  }

  async beforeBulkRestore(options: Options): Promise<void> {
    const state = this.beginBulk(options);
    if (!state || state.skip) return;
    await this.prequery(state, options.where, options, false);
  }

  async afterBulkRestore(options: Options): Promise<void> {
    const ended = this.endBulk(options);
    if (!ended) return;
    const { state, model, meta } = ended;
    const deletedAt = model._timestampAttributes?.deletedAt;
    const restoredValue = deletedAt && Object.prototype.hasOwnProperty.call(model.rawAttributes[deletedAt] ?? {}, 'defaultValue')
      ? model.rawAttributes[deletedAt]!.defaultValue : null;
    if (!state || state.whole || !state.old) {
      const before = whereEqualities(meta, options.where);
      if (deletedAt) delete before[deletedAt];
      return this.record({ images: [rowImage(meta, before), rowImage(meta, deletedAt ? { ...before, [deletedAt]: restoredValue } : before)] }, options);
    }
    const images: RowImage[] = [];
    for (const old of state.old) {
      images.push(rowImage(meta, old));
      if (deletedAt) images.push(rowImage(meta, { ...old, [deletedAt]: restoredValue }));
    }
    await this.record({ images }, options);
  }

  async beforeUpsert(values: Record<string, unknown>, options: Options): Promise<void> {
    const model = options?.model;
    if (!isModel(model)) return;
    const meta = metaOf(model);
    const given = byAttribute(meta, values ?? {});
    const state: BulkState = { model, meta, given: [given] };
    this.bulk.set(options, state);
    state.keys = this.conflictKeys(meta, options.conflictFields);
    const conditions = this.conflictWhere(meta, state.keys, [given]);
    if (conditions.length === 0) state.old = [];
    else await this.prequery(state, conditions.length === 1 ? conditions[0] : { [OR]: conditions }, options, false);
  }

  async afterUpsert(result: unknown, options: Options): Promise<void> {
    const state = this.bulk.get(options);
    this.bulk.delete(options);
    const model = (state?.model ?? options?.model) as ModelLike | undefined;
    if (!isModel(model)) return;
    const meta = state?.meta ?? metaOf(model);
    if (!state || state.whole || !state.old) return this.record({ tables: [meta.table] }, options);
    const given = state.given?.[0] ?? {};
    const fields = Array.isArray(options.fields) ? new Set((options.fields as string[]).map((f) => attributeOf(meta, f) ?? f)) : new Set(Object.keys(given));
    const images: RowImage[] = [];
    // PostgreSQL returns the row written (RETURNING *); other dialects report ids we cannot trust.
    const record = Array.isArray(result) ? result[0] : undefined;
    const returned = isInstance(record) && this.dialect() === 'postgres' && options.returning !== false;
    if (returned) images.push(rowImage(meta, record.dataValues));
    // No existing row: an insert of the values given (a generated key is unknown).
    else if (state.old.length === 0) images.push(rowImage(meta, withoutGeneratedKeys(meta, given)));
    for (const old of state.old) {
      images.push(rowImage(meta, old));
      const merged: Record<string, unknown> = { ...old };
      for (const a of fields) if (a in given) merged[a] = plainOrUnknown(given[a]);
      const updatedAt = model._timestampAttributes?.updatedAt;
      if (updatedAt && !(updatedAt in given)) delete merged[updatedAt];
      images.push(rowImage(meta, merged));
    }
    await this.record({ images }, options);
  }

  /** The safety net: writes the model hooks did not see. */
  async afterQuery(options: Options, query: { sql?: unknown } | undefined): Promise<void> {
    if (!this.safetyNet || !options) return;
    const instance = options.instance;
    const model = isModel(options.model) ? options.model : isInstance(instance) ? instance.constructor : undefined;
    if (instance && typeof instance === 'object' && this.covered.has(instance)) {
      // The query of an instance destroy / restore / row-by-row update: our instance hooks cover
      // it (a paranoid destroy and a restore save with hooks off). One query consumes the mark.
      this.covered.delete(instance);
      return;
    }
    if (model && options.hooks === true) return; // the model hooks saw it
    const sql = typeof query?.sql === 'string' ? query.sql : '';
    const tables = new Set<string>();
    const type = typeof options.type === 'string' ? options.type.toUpperCase() : '';
    if (model && WRITE_TYPES.has(type)) {
      const table = tableOf(model);
      tables.add(table);
      const action = type === 'DELETE' || type === 'BULKDELETE' ? 'delete' : type === 'INSERT' ? undefined : 'update';
      if (action) for (const t of this.cascadeTables(table, action)) tables.add(t);
    }
    if (model || this.rawQueries) {
      for (const written of writtenTables(sql)) {
        const table = this.resolveTable(written.name);
        tables.add(table);
        if (written.action === 'delete' || written.action === 'truncate' || written.action === 'drop') {
          const action = written.action === 'truncate' && written.cascade ? 'truncate' : 'delete';
          for (const t of this.cascadeTables(table, action)) tables.add(t);
        } else if (written.action === 'update') {
          for (const t of this.cascadeTables(table, 'update')) tables.add(t);
        }
      }
    }
    if (tables.size > 0) await this.record({ tables }, options);
  }

  /** Maps a table name read from SQL to the canonical name of the model on it, if any. */
  resolveTable(name: string): string {
    const models = Object.values(this.sequelize.models ?? {}).filter(isModel);
    const candidates = [name];
    const dot = name.indexOf('.');
    if (dot > 0 && ['public', 'main'].includes(name.slice(0, dot).toLowerCase())) candidates.push(name.slice(dot + 1));
    for (const candidate of candidates) {
      for (const model of models) if (tableOf(model) === candidate) return candidate;
      const lower = candidate.toLowerCase();
      for (const model of models) {
        const table = tableOf(model);
        if (table.toLowerCase() === lower) return table;
      }
    }
    return name;
  }
}

function canonical(target: unknown): string {
  if (isModel(target)) return tableOf(target);
  if (typeof target === 'string') return target;
  if (target && typeof target === 'object' && typeof (target as { tableName?: unknown }).tableName === 'string') {
    const { tableName, schema } = target as { tableName: string; schema?: string };
    return schema ? `${schema}.${tableName}` : tableName;
  }
  return String(target);
}

const EQ = Symbol.for('eq');
const AND = Symbol.for('and');

/**
 * The columns a `where` pins to one value for every row it matches: top-level `field: value`
 * (null included), `field: { [Op.eq]: value }` and the same inside `[Op.and]`. Anything else
 * (operators, arrays, literals) says nothing and is left out.
 */
export function whereEqualities(meta: ModelMeta, where: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!where || typeof where !== 'object' || Array.isArray(where)) return out;
  const proto = Object.getPrototypeOf(where);
  if (proto !== Object.prototype && proto !== null) return out; // sequelize.where(), literal(): opaque
  const record = where as Record<string | symbol, unknown>;
  for (const key of Object.keys(record)) {
    const attribute = attributeOf(meta, key);
    if (attribute === undefined) continue;
    let value = record[key];
    if (value && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array) && !Array.isArray(value)) {
      const keys = Reflect.ownKeys(value);
      value = keys.length === 1 && keys[0] === EQ ? (value as Record<symbol, unknown>)[EQ] : undefined;
    }
    if (value !== undefined && isPlain(value)) out[attribute] = value;
  }
  const and = record[AND];
  if (Array.isArray(and)) {
    for (const part of and) for (const [k, v] of Object.entries(whereEqualities(meta, part))) if (!(k in out)) out[k] = v;
  }
  return out;
}

/** Drops key columns left empty for the database to generate (`id: null` in a built instance). */
function withoutGeneratedKeys(meta: ModelMeta, values: Record<string, unknown>): Record<string, unknown> {
  const out = { ...values };
  for (const [attribute, def] of Object.entries(meta.model.rawAttributes)) {
    if ((def.autoIncrement || def.primaryKey) && (out[attribute] === null || out[attribute] === undefined)) delete out[attribute];
  }
  return out;
}

/** A SQL expression (literal, fn, col…) has no value we can know: treat it as unknown. */
function plainOrUnknown(value: unknown): unknown {
  return isPlain(value) ? value : undefined;
}

function isPlain(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string': case 'number': case 'bigint': case 'boolean': return true;
    case 'object': return value instanceof Date || value instanceof Uint8Array;
    default: return false;
  }
}

/** Do an old row and a given record share a complete conflict key (normalized comparison)? */
function sharesKey(meta: ModelMeta, keys: string[][], old: Record<string, unknown>, given: Record<string, unknown>): boolean {
  return keys.some((key) => key.every((a) => {
    const x = rowImage(meta, old, new Set([a])).values[a];
    const y = rowImage(meta, given, new Set([a])).values[a];
    if (x === undefined || y === undefined || x === null || y === null) return false;
    return encodeRow({ table: '', values: { v: x } }).values.v === encodeRow({ table: '', values: { v: y } }).values.v;
  }));
}

function resolveStore(keyvOrStore: unknown): { store: object; internals: StoreInternals } {
  for (const candidate of [keyvOrStore, (keyvOrStore as { store?: unknown } | null)?.store, (keyvOrStore as { opts?: { store?: unknown } } | null)?.opts?.store]) {
    const internals = internalsOf(candidate);
    if (internals) return { store: candidate as object, internals };
  }
  throw new TypeError(`registerSequelizeHooks(): the second argument must be a Keyv whose store is a CleverStore, or a CleverStore, got ${describe(keyvOrStore)}`);
}

function checkOptions(options: unknown): SequelizeHooksOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`registerSequelizeHooks(): options must be an object, got ${describe(options)}`);
  }
  const known = new Set(['prequeryLimit', 'maxRowImages', 'cascades', 'safetyNet', 'rawQueries']);
  for (const [key, value] of Object.entries(options)) {
    if (!known.has(key)) throw new TypeError(`registerSequelizeHooks(): unknown option '${key}' (known: ${[...known].join(', ')})`);
    if ((key === 'prequeryLimit' || key === 'maxRowImages') && value !== undefined && (!Number.isInteger(value) || (value as number) < (key === 'prequeryLimit' ? 0 : 1))) {
      throw new TypeError(`registerSequelizeHooks(): ${key} must be an integer >= ${key === 'prequeryLimit' ? 0 : 1}, got ${describe(value)}`);
    }
    if (['cascades', 'safetyNet', 'rawQueries'].includes(key) && value !== undefined && typeof value !== 'boolean') {
      throw new TypeError(`registerSequelizeHooks(): ${key} must be a boolean, got ${describe(value)}`);
    }
  }
  return options as SequelizeHooksOptions;
}

/**
 * Registers global hooks on `sequelize` (they cover models defined later and join tables) that
 * invalidate the entries of `keyvOrStore` depending on the rows each write changes. Inside a
 * transaction the invalidation happens once, after the root transaction commits (explicit
 * `{ transaction }` or CLS); outside one, right after the write, before the write's promise
 * resolves. Errors are emitted as `'error'` on the store; the write itself never fails because
 * of the cache.
 *
 * ```ts
 * const hooks = registerSequelizeHooks(sequelize, keyv);
 * // … later
 * hooks.unregister();
 * ```
 */
export function registerSequelizeHooks(sequelize: object, keyvOrStore: object, options?: SequelizeHooksOptions): SequelizeHooks {
  if (!isSequelize(sequelize)) {
    throw new TypeError(`registerSequelizeHooks(): the first argument must be a Sequelize instance, got ${describe(sequelize)}`);
  }
  const { store, internals } = resolveStore(keyvOrStore);
  const reg = new Registration(sequelize, internals, checkOptions(options));
  const name = `keyv-clever:${++registrations}:${Math.random().toString(36).slice(2, 10)}`;
  const g = reg.guard.bind(reg);
  const hooks: Record<string, Hook> = {
    afterCreate: g((i: InstanceLike, o: Options) => reg.afterCreate(i, o)),
    beforeUpdate: g((i: InstanceLike, o: Options) => reg.beforeUpdate(i, o)),
    afterUpdate: g((i: InstanceLike, o: Options) => reg.afterUpdate(i, o)),
    beforeDestroy: g((i: InstanceLike) => reg.beforeDestroyOrRestore(i)),
    afterDestroy: g((i: InstanceLike, o: Options) => reg.afterDestroyOrRestore(i, o, 'destroy')),
    beforeRestore: g((i: InstanceLike) => reg.beforeDestroyOrRestore(i)),
    afterRestore: g((i: InstanceLike, o: Options) => reg.afterDestroyOrRestore(i, o, 'restore')),
    beforeBulkCreate: g((i: InstanceLike[], o: Options) => reg.beforeBulkCreate(i, o)),
    afterBulkCreate: g((i: InstanceLike[], o: Options) => reg.afterBulkCreate(i, o)),
    beforeBulkUpdate: g((o: Options) => reg.beforeBulkUpdate(o)),
    afterBulkUpdate: g((o: Options) => reg.afterBulkUpdate(o)),
    beforeBulkDestroy: g((o: Options) => reg.beforeBulkDestroy(o)),
    afterBulkDestroy: g((o: Options) => reg.afterBulkDestroy(o)),
    beforeBulkRestore: g((o: Options) => reg.beforeBulkRestore(o)),
    afterBulkRestore: g((o: Options) => reg.afterBulkRestore(o)),
    beforeUpsert: g((v: Record<string, unknown>, o: Options) => reg.beforeUpsert(v, o)),
    afterUpsert: g((r: unknown, o: Options) => reg.afterUpsert(r, o)),
    afterQuery: g((o: Options, q: { sql?: unknown }) => reg.afterQuery(o, q)),
  };
  for (const [type, fn] of Object.entries(hooks)) sequelize.addHook(type, name, fn);
  trackRegistration(sequelize, store, 1);
  let active = true;
  return {
    name,
    unregister() {
      if (!active) return;
      active = false;
      for (const type of Object.keys(hooks)) sequelize.removeHook(type, name);
      trackRegistration(sequelize, store, -1);
    },
  };
}
