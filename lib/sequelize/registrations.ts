/**
 * Which Sequelize instances have hooks registered, and with which stores: the CLS lookup asks
 * which instances to look at, and a dependency on a model nothing would invalidate is refused.
 * @internal
 */
import { BadDependencyError } from '../errors.js';
import { describe, modelName, type ModelLike, type SequelizeLike } from './model.js';

/** Sequelize instance -> store -> live registrations of that pair */
const registered = new Map<SequelizeLike, Map<object, number>>();

/** @internal called by registerSequelizeHooks / unregister */
export function trackRegistration(sequelize: SequelizeLike, store: object, delta: 1 | -1): void {
  let stores = registered.get(sequelize);
  if (!stores) registered.set(sequelize, (stores = new Map()));
  const count = (stores.get(store) ?? 0) + delta;
  if (count > 0) stores.set(store, count);
  else stores.delete(store);
  if (stores.size === 0) registered.delete(sequelize);
}

/** @internal the Sequelize instances with at least one live registration */
export function registeredSequelizes(): Iterable<SequelizeLike> {
  return registered.keys();
}

/**
 * A dependency on a model whose Sequelize instance has no hooks registered would never be
 * invalidated by writes, while other instances are hooked: almost certainly a mistake (two
 * `new Sequelize()` in one app, a model imported from the wrong module). Reject it clearly.
 * With no registration at all (manual invalidation only, or before start-up finished) any model
 * is accepted. When the core passes the store (`context.store`), the check is per store.
 * @internal
 */
export function checkRegistered(model: ModelLike, value: unknown, label: string, context?: { store?: unknown }): void {
  if (registered.size === 0) return;
  const stores = model.sequelize ? registered.get(model.sequelize) : undefined;
  const store = context?.store;
  if (store === undefined || store === null) {
    if (stores) return;
  } else {
    if (stores?.has(store as object)) return;
    // A store no Sequelize instance is registered with is used for manual invalidation only.
    if (![...registered.values()].some((s) => s.has(store as object))) return;
  }
  const where = stores ? 'is registered with a different store' : 'has no registerSequelizeHooks() registration';
  throw new BadDependencyError(label, value, `${label}: ${describe(value)} belongs to a Sequelize instance that ${where}, so writes to ${modelName(model)} would never invalidate this entry; register that instance (registerSequelizeHooks(sequelize, keyv)) or use the models of the registered one`);
}
