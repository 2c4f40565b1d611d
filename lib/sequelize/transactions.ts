/**
 * Transactions as the hooks see them: the transaction a write runs in (explicit or CLS), its
 * root, and the collectors pending on each root until it commits. The read-through asks this
 * registry whether a transaction has written, not yet committed, what a value depends on.
 */
import { afterCommitFirst } from './hook-order.js';
import type { CompiledDependencies } from '../dependencies.js';
import { registerTransactionWrites } from '../read-through.js';
import { Collector } from './collector.js';
import { readsSnapshot } from './isolation.js';
import type { HookOptions, SequelizeLike, TransactionLike } from './model.js';
import { registeredSequelizes } from './registrations.js';

/** root transaction -> registration -> the changes it collected there (one collector each) */
const pending = new WeakMap<TransactionLike, Map<object, Collector>>();

/** @internal The root of a (possibly nested: savepoint) transaction. */
export function rootTransaction(transaction: TransactionLike): TransactionLike {
  let t = transaction;
  const seen = new Set<TransactionLike>();
  while (t.parent && !seen.has(t)) {
    seen.add(t);
    t = t.parent;
  }
  return t;
}

/** @internal The CLS transaction of `sequelize` in the current async context, if it uses CLS. */
export function clsTransaction(sequelize: SequelizeLike): TransactionLike | undefined {
  const t = sequelize.constructor._cls?.get('transaction');
  return t && typeof t === 'object' ? (t as TransactionLike) : undefined;
}

/** @internal The transaction a write runs in: explicit `{ transaction }` (null = none), else the CLS one. */
export function transactionOf(sequelize: SequelizeLike, options: HookOptions | undefined): TransactionLike | undefined {
  if (options && options.transaction !== undefined) return options.transaction ?? undefined;
  return clsTransaction(sequelize);
}

/**
 * The collector `owner` keeps on the root transaction `root`, made on first use; `flush` runs
 * with it once the root commits (a rollback drops it).
 * @internal
 */
export function pendingCollector(root: TransactionLike, owner: object, maxRowImages: number, flush: (collector: Collector) => Promise<void>): Collector {
  let byOwner = pending.get(root);
  if (!byOwner) pending.set(root, (byOwner = new Map()));
  const existing = byOwner.get(owner);
  if (existing) return existing;
  const collector = new Collector(maxRowImages);
  byOwner.set(owner, collector);
  const all = byOwner;
  afterCommitFirst(root, () => {
    all.delete(owner);
    return flush(collector);
  });
  return collector;
}

function collectorsOf(transaction: unknown): Iterable<Collector> {
  if (!transaction || typeof transaction !== 'object') return [];
  return pending.get(rootTransaction(transaction as TransactionLike))?.values() ?? [];
}

/**
 * The canonical names of the tables written so far inside `transaction`'s root transaction by
 * hooked Sequelize writes (empty when none). A value computed inside that transaction from one of
 * these tables holds uncommitted data and should not be cached.
 */
export function tablesWrittenIn(transaction: unknown): string[] {
  const tables = new Set<string>();
  for (const c of collectorsOf(transaction)) for (const t of c.written()) tables.add(t);
  return [...tables];
}

// Lets getOrSet() refuse to cache a value computed inside a transaction that has written (not yet
// committed) to one of the value's dependencies.
registerTransactionWrites({
  current(): TransactionLike | undefined {
    for (const sequelize of registeredSequelizes()) {
      const t = clsTransaction(sequelize);
      if (t) return t;
    }
    return undefined;
  },
  hasWritten(transaction: unknown, deps: CompiledDependencies): boolean {
    for (const c of collectorsOf(transaction)) if (deps.tags.some((tag) => c.touches(tag))) return true;
    return false;
  },
  readsSnapshot(transaction: unknown): boolean {
    if (!transaction || typeof transaction !== 'object' || !('sequelize' in transaction)) return false;
    return readsSnapshot(rootTransaction(transaction as TransactionLike));
  },
});
