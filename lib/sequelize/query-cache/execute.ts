/**
 * One cached finder call: the key, the dependencies and the read-through. A hit is rebuilt from
 * the cache; a miss runs the finder once (getOrSet coalesces concurrent callers and refuses a
 * write-back that a commit overtook) and returns the finder's own result. Anything the cache
 * cannot do (options it cannot key, Redis away, a payload it cannot rebuild) sends the call to
 * the database instead: the cache never fails a query that would have succeeded.
 * @internal
 */
import type Keyv from 'keyv';
import type { Dependency } from '../../dependencies.js';
import { logger } from '../../log.js';
import { getOrSet } from '../../read-through.js';
import { internalsOf } from '../../store/internal.js';
import { metaOf } from '../meta.js';
import { modelName, type ModelLike } from '../model.js';
import { queryDependencies } from './dependencies-from-query.js';
import { QueryCacheHydrationError } from './errors.js';
import { decodeResult, encodeResult, instancesOf, returnsInstances, type Finder, type Payload } from './hydrate.js';
import { cacheKey } from './key.js';
import { resolveOptions } from './prepare.js';

const log = logger('query-cache');

/** One call of a cached finder. */
export interface Call {
  model: ModelLike;
  finder: Finder;
  /** findByPk's key, an aggregate's field */
  args: unknown[];
  /** the finder's options, without `cache` */
  options: Record<string, unknown>;
  keyv: Keyv;
  ttl: number | undefined;
}

type Finders = Record<Finder, (...args: unknown[]) => Promise<unknown>>;

/** The finder itself, uncached. */
export const runFinder = (model: ModelLike, finder: Finder, args: unknown[], options: Record<string, unknown>): Promise<unknown> =>
  (model as unknown as Finders)[finder](...args, options);

/** The options the finder resolves its query from (findByPk's key becomes its where). */
function queryOptions({ model, finder, args, options }: Call): Record<string, unknown> {
  if (finder !== 'findByPk') return options;
  return { ...options, where: { [metaOf(model).primaryKey[0] ?? 'id']: args[0] } };
}

const AGGREGATES = new Set<Finder>(['findAndCountAll', 'count', 'max', 'min', 'sum']);

/** Runs `call` through the cache. */
export async function runCached(call: Call): Promise<unknown> {
  const { model, finder, args, options, keyv } = call;
  const direct = () => runFinder(model, finder, args, options);
  const store = internalsOf((keyv as { store?: unknown }).store)!;
  let key: string;
  let prepared;
  try {
    key = cacheKey(call);
    const resolved = resolveOptions(model, queryOptions(call));
    prepared = { resolved, deps: queryDependencies(model, resolved, { aggregate: AGGREGATES.has(finder) }) };
  } catch (error) {
    // Options no key can describe, or that Sequelize refuses (the finder reports that itself).
    log('%s.%s() not cached: %s', modelName(model), finder, (error as Error).message);
    return direct();
  }
  const { resolved, deps } = prepared;

  let loaded: { result: unknown } | undefined;
  let loaderError: { error: unknown } | undefined;
  const loader = async (): Promise<Payload | undefined> => {
    let result: unknown;
    try {
      result = await direct();
    } catch (error) {
      loaderError = { error };
      throw error;
    }
    loaded = { result };
    try {
      return encodeResult(finder, result);
    } catch (error) {
      log('%s.%s() result not cached: %s', modelName(model), finder, (error as Error).message);
      return undefined; // getOrSet stores nothing
    }
  };
  const fromResult = deps.fromResult;
  const dependsOnValue = (): Dependency[] => {
    if (!fromResult || !loaded || !returnsInstances(finder, resolved)) return deps.stable;
    return [...deps.stable, ...fromResult(instancesOf(finder, loaded.result))];
  };

  let payload: Payload | undefined;
  try {
    payload = await getOrSet<Payload | undefined>(keyv, key, loader, {
      ttl: call.ttl,
      dependsOn: deps.guard,
      dependsOnValue,
      transaction: options.transaction ?? undefined,
    });
  } catch (error) {
    if (loaderError && error === loaderError.error) throw error;
    // The cache failed, not the query.
    store.emitError(error);
    return loaded ? loaded.result : direct();
  }
  if (loaded) return loaded.result;
  try {
    return decodeResult(finder, payload!, model, resolved);
  } catch (cause) {
    store.emitError(new QueryCacheHydrationError(modelName(model), finder, { cause }));
    return direct();
  }
}
