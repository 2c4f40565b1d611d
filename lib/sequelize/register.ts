/**
 * `registerSequelizeHooks(sequelize, keyv)`: invalidates cached entries whenever Sequelize writes
 * the rows they depend on — exactly (the old and new values of every changed row, matched against
 * the schemes cached entries use), at commit time (once, after the root transaction commits;
 * never for a rollback), and without ever failing the user's write.
 *
 * Write paths (sequelize 6.37, see DESIGN §5), one file each under write-paths/. The rows a write
 * changes are read locked right before its statement (read-at-write.ts), never taken from memory:
 * - instance create / update / destroy / restore: the row as the database held it at the write,
 *   and as the instance believed it (`_previousDataValues`, or a snapshot taken in the before
 *   hook), and its new values (read back where the database computes columns);
 * - Model.update / destroy / restore with a where: the rows the statement's where matches (at
 *   most `prequeryLimit`; more: what the where pins, else the whole table), turned by the after
 *   hook into old and new row images; hasMany add/remove/set and belongsToMany add/remove/set are
 *   such bulk writes;
 * - bulkCreate: the rows inserted (ids trusted only for plain inserts); with updateOnDuplicate the
 *   conflicting rows are read too; upsert likewise (on MariaDB on every unique key it declares);
 * - anything else that writes with a model but without its hooks (increment, `hooks: false`,
 *   queryInterface.bulk*, raw SQL naming a table) is caught by an `afterQuery` safety net that
 *   invalidates the whole table.
 */
import { InvalidOptionError } from '../errors.js';
import { attachKeyv, storeBehind } from '../keyv/attach.js';
import { internalsOf, type StoreInternals } from '../store/internal.js';
import { describe, isSequelize, type HookOptions, type InstanceLike } from './model.js';
import { installFirst, prependHook } from './hook-order.js';
import { learnDefaultIsolation } from './isolation.js';
import { endReadAtWrite, readAtWrite, whenNoneOpen } from './read-at-write.js';
import { resolveHooksOptions, type SequelizeHooksOptions } from './options.js';
import { trackRegistration } from './registrations.js';
import { recordQueryCache } from './query-cache/registry.js';
import { afterBulkCreate, beforeBulkCreate } from './write-paths/bulk-create.js';
import { afterBulkDestroy, afterBulkRestore, afterBulkUpdate, beforeBulk } from './write-paths/bulk.js';
import { WriteContext } from './write-paths/context.js';
import { afterCreate, afterDestroyOrRestore, afterUpdate, beforeDestroyOrRestore, beforeUpdate } from './write-paths/instance.js';
import { afterQuery } from './write-paths/safety-net.js';
import { afterUpsert, beforeUpsert } from './write-paths/upsert.js';

export type { SequelizeHooksOptions } from './options.js';

export interface SequelizeHooks {
  /** Removes every hook this registration added. Safe to call more than once. */
  unregister(): void;
  /** The unique name the hooks are registered under. */
  readonly name: string;
}

type Hook = (...args: never[]) => unknown;

let registrations = 0;

/** The hooks of one registration, by Sequelize hook type; each guarded (errors go to the store). */
function hookTable(ctx: WriteContext): Record<string, Hook> {
  const g = ctx.guard.bind(ctx);
  return {
    afterCreate: g((i: InstanceLike, o: HookOptions) => afterCreate(ctx, i, o)),
    beforeUpdate: g((i: InstanceLike, o: HookOptions) => beforeUpdate(ctx, i, o)),
    afterUpdate: g((i: InstanceLike, o: HookOptions) => afterUpdate(ctx, i, o)),
    beforeDestroy: g((i: InstanceLike, o: HookOptions) => beforeDestroyOrRestore(ctx, i, o)),
    afterDestroy: g((i: InstanceLike, o: HookOptions) => afterDestroyOrRestore(ctx, i, o, 'destroy')),
    beforeRestore: g((i: InstanceLike, o: HookOptions) => beforeDestroyOrRestore(ctx, i, o)),
    afterRestore: g((i: InstanceLike, o: HookOptions) => afterDestroyOrRestore(ctx, i, o, 'restore')),
    beforeBulkCreate: g((i: InstanceLike[], o: HookOptions) => beforeBulkCreate(ctx, i, o)),
    afterBulkCreate: g((i: InstanceLike[], o: HookOptions) => afterBulkCreate(ctx, i, o)),
    beforeBulkUpdate: g((o: HookOptions) => beforeBulk(ctx, o, 'update')),
    afterBulkUpdate: g((o: HookOptions) => afterBulkUpdate(ctx, o)),
    beforeBulkDestroy: g((o: HookOptions) => beforeBulk(ctx, o, 'destroy')),
    afterBulkDestroy: g((o: HookOptions) => afterBulkDestroy(ctx, o)),
    beforeBulkRestore: g((o: HookOptions) => beforeBulk(ctx, o, 'restore')),
    afterBulkRestore: g((o: HookOptions) => afterBulkRestore(ctx, o)),
    beforeUpsert: g((v: Record<string, unknown>, o: HookOptions) => beforeUpsert(ctx, v, o)),
    afterUpsert: g((r: unknown, o: HookOptions) => afterUpsert(ctx, r, o)),
    afterQuery: g((o: HookOptions, q: { sql?: unknown }) => afterQuery(ctx, o, q)),
    beforeQuery: g((o: HookOptions, q: { connection?: unknown }) => readAtWrite(ctx, o, q)),
    endQuery: g((_o: HookOptions, q: object) => endReadAtWrite(ctx, q)),
  };
}

/**
 * The store behind a Keyv (used natively or through Keyv 6's bridge), or a CleverStore itself, and
 * its internals. A Keyv is attached on the way: the entries cached through it need their options.
 */
function resolveStore(keyvOrStore: unknown): { store: object; internals: StoreInternals } {
  const internals = internalsOf(keyvOrStore);
  if (internals) return { store: keyvOrStore as object, internals };
  const behind = storeBehind(keyvOrStore);
  if (behind) {
    attachKeyv(keyvOrStore as object);
    return behind;
  }
  throw new InvalidOptionError('keyvOrStore', keyvOrStore, `registerSequelizeHooks(): the second argument must be a Keyv whose store is a CleverStore, or a CleverStore, got ${describe(keyvOrStore)}`);
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
    throw new InvalidOptionError('sequelize', sequelize, `registerSequelizeHooks(): the first argument must be a Sequelize instance, got ${describe(sequelize)}`);
  }
  const { store, internals } = resolveStore(keyvOrStore);
  learnDefaultIsolation(sequelize);
  const resolved = resolveHooksOptions(options);
  const ctx = new WriteContext(sequelize, internals, resolved);
  const hooks = hookTable(ctx);
  const name = `keyv-clever:${++registrations}:${Math.random().toString(36).slice(2, 10)}`;
  // The safety net watches every query on the instance; the write paths go first on each model.
  const { afterQuery: safetyNet, beforeQuery: readAt, endQuery, ...writePaths } = hooks;
  sequelize.addHook('afterQuery', name, safetyNet!);
  // The locked read right before a write's statement, and the end of the transaction it may
  // have begun for an autocommit write: first among afterQuery hooks, so none can skip it.
  sequelize.addHook('beforeQuery', name, readAt!);
  prependHook(sequelize as never, 'afterQuery', `${name}:end`, endQuery!);
  const uninstall = installFirst(sequelize, name, writePaths);
  trackRegistration(sequelize, store, 1);
  // cached(Model) finders of this instance use this Keyv by default.
  const forgetQueryCache = recordQueryCache(sequelize, { keyv: store === keyvOrStore ? undefined : keyvOrStore as never, store, defaults: resolved.cacheQueries });
  let active = true;
  return {
    name,
    unregister() {
      if (!active) return;
      active = false;
      sequelize.removeHook('afterQuery', name);
      sequelize.removeHook('beforeQuery', name);
      // The hook that ends transactions begun for autocommit writes goes once none is open.
      whenNoneOpen(ctx, () => sequelize.removeHook('afterQuery', `${name}:end`));
      uninstall();
      trackRegistration(sequelize, store, -1);
      forgetQueryCache();
    },
  };
}
