/**
 * What every write path shares: one registration's options, the store's internals, the state
 * a before hook hands its after hook, and `record()`, which files a change on the write's root
 * transaction (flushed once it commits) or flushes it at once.
 * @internal
 */
import type { StoreInternals } from '../../store/internal.js';
import { Cascades, type CascadeAction } from '../cascades.js';
import { Collector, type Change } from '../collector.js';
import { metaOf, type ModelMeta } from '../meta.js';
import { isModel, type HookOptions, type ModelLike, type SequelizeLike } from '../model.js';
import type { ResolvedHooksOptions } from '../options.js';
import type { ArmedRead } from '../read-at-write.js';
import { pendingCollector, rootTransaction, transactionOf } from '../transactions.js';

/** @internal State a before-hook hands to its after-hook (keyed by the options object they share). */
export interface BulkState {
  model: ModelLike;
  meta: ModelMeta;
  /** invalidate the whole table (over the cap, or the old rows could not be read) */
  whole?: boolean;
  /** pre-queried old rows, attribute-keyed */
  old?: Array<Record<string, unknown>>;
  /** the read armed to run at the write; its result becomes `old` (or `whole`) */
  read?: ArmedRead;
  /** bulkCreate: the values given per record (before the insert), attribute-keyed */
  given?: Array<Record<string, unknown>>;
  /** bulkCreate updateOnDuplicate / upsert: candidate conflict keys (attribute lists) */
  keys?: string[][];
  skip?: boolean;
}

/** @internal */
export class WriteContext {
  /** instances whose hookless save (paranoid destroy/restore, row-by-row bulk update) our instance hooks cover */
  readonly covered = new WeakSet<object>();
  /** instance -> its values before a destroy/restore/row-by-row update */
  readonly snapshots = new WeakMap<object, Record<string, unknown>>();
  /** a bulk write's options object -> what its before hook found */
  readonly bulk = new WeakMap<object, BulkState>();
  /** flushes a collector after its root transaction committed; never rejects */
  private readonly flushAfterCommit = this.guard((collector: Collector) => this.flush(collector));
  /** the cascade walks of this registration, completed by `record()` once the catalog is read */
  private readonly cascades = new Cascades(this);

  constructor(
    readonly sequelize: SequelizeLike,
    readonly store: StoreInternals,
    readonly options: ResolvedHooksOptions,
  ) {}

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

  /** Records a change: on the root transaction (flushed after it commits), or flushed now. */
  async record(change: Change, options: HookOptions | undefined): Promise<void> {
    // The write's cascade walks that wait for the database's catalog: taken before any await.
    const late = this.cascades.settle();
    if (late) {
      const tables = new Set(change.tables ?? []);
      for (const table of await late) tables.add(table);
      change = { ...change, tables };
    }
    const transaction = transactionOf(this.sequelize, options);
    if (transaction && typeof transaction.afterCommit === 'function') {
      const root = rootTransaction(transaction);
      if (root.finished === 'rollback') return;
      if (root.finished !== 'commit') {
        pendingCollector(root, this, this.options.maxRowImages, this.flushAfterCommit).add(change);
        return;
      }
    }
    const collector = new Collector(this.options.maxRowImages);
    collector.add(change);
    await this.flush(collector);
  }

  private async flush(collector: Collector): Promise<void> {
    if (collector.empty) return;
    await this.store.invalidateOrQueue(collector.request());
  }

  /**
   * Tables a foreign-key cascade changes along with `table` (none with `cascades: false`). The
   * caller passes them to `record()` before it awaits anything: until the database's catalog is
   * read, `record()` adds what it declares.
   */
  cascadeTables(table: string, action: CascadeAction): Set<string> {
    return this.options.cascades ? this.cascades.tables(table, action) : new Set();
  }

  /** Tables an update changes through ON UPDATE rules (`pairs`: rows before and after); as `cascadeTables`. */
  updateCascades(meta: ModelMeta, pairs: ReadonlyArray<[Record<string, unknown>, Record<string, unknown>]>): Set<string> {
    return this.options.cascades ? this.cascades.update(meta, pairs) : new Set();
  }

  /**
   * Starts the state of a bulk write on `model` (undefined when it is not one); marked `skip`
   * with individualHooks, since the instance hooks see every row then.
   */
  beginBulk(options: HookOptions, model: unknown = options?.model): BulkState | undefined {
    if (!isModel(model)) return undefined;
    const state: BulkState = { model, meta: metaOf(model) };
    this.bulk.set(options, state);
    if (options.individualHooks) state.skip = true;
    return state;
  }

  /** Takes the state a before hook left for these options; undefined without a model or with `skip`. */
  endBulk(options: HookOptions): { state: BulkState | undefined; model: ModelLike; meta: ModelMeta } | undefined {
    const state = this.bulk.get(options);
    this.bulk.delete(options);
    if (state?.read) {
      // Not run (no statement was sent, or it was not recognised), over the cap, or failed: whole.
      const rows = state.read.result;
      if (Array.isArray(rows)) state.old = rows;
      else state.whole = true;
      state.read = undefined;
    }
    const model = (state?.model ?? options?.model) as ModelLike | undefined;
    if (!isModel(model) || state?.skip) return undefined;
    return { state, model, meta: state?.meta ?? metaOf(model) };
  }
}
