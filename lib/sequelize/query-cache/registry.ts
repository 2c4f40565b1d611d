/**
 * Which Keyv `cached()` uses by default for a Sequelize instance: the one the latest live
 * `registerSequelizeHooks()` of that instance was given, with its `cacheQueries` defaults.
 * @internal
 */
import type Keyv from 'keyv';
import type { SequelizeLike } from '../model.js';

/** `registerSequelizeHooks(…, { cacheQueries })`: the defaults of `cached()` on that instance. */
export interface CacheQueriesOptions {
  /** ms; the ttl of cached query results unless `cached(Model, { ttl })` says otherwise */
  ttl?: number;
}

/** @internal One live registration as `cached()` sees it. */
export interface QueryCacheRegistration {
  /** the Keyv given, undefined when a bare CleverStore was */
  keyv: Keyv | undefined;
  /** the CleverStore whose entries the hooks invalidate */
  store: object;
  /** false: `cached()` finders of this instance go to the database */
  defaults: CacheQueriesOptions | false;
}

const live = new Map<SequelizeLike, QueryCacheRegistration[]>();

/** @internal Called by registerSequelizeHooks; the returned function forgets the registration. */
export function recordQueryCache(sequelize: SequelizeLike, registration: QueryCacheRegistration): () => void {
  let list = live.get(sequelize);
  if (!list) live.set(sequelize, (list = []));
  list.push(registration);
  return () => {
    const at = list.indexOf(registration);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0 && live.get(sequelize) === list) live.delete(sequelize);
  };
}

/** @internal The latest live registration of `sequelize`, if any. */
export function latestRegistration(sequelize: SequelizeLike | undefined): QueryCacheRegistration | undefined {
  const list = sequelize ? live.get(sequelize) : undefined;
  return list?.[list.length - 1];
}

/** @internal The live registration of `sequelize` made with `store`, if any. */
export function registrationWithStore(sequelize: SequelizeLike | undefined, store: object): QueryCacheRegistration | undefined {
  const list = sequelize ? live.get(sequelize) : undefined;
  for (let i = (list?.length ?? 0) - 1; i >= 0; i -= 1) if (list![i]!.store === store) return list![i];
  return undefined;
}
