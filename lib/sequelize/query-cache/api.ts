/**
 * `cached(Model, { ttl?, keyv? })`: the model's finders, cached in a CleverStore and invalidated
 * exactly by the Sequelize hooks, with no dependency written by hand.
 *
 * ```ts
 * const posts = await cached(Post, { ttl: 60_000 }).findAll({ where: { authorId: 7 }, include: ['tags'] });
 * ```
 */
import type Keyv from 'keyv';
import type {
  AggregateOptions, Attributes, CountOptions, CountWithOptions, FindAndCountOptions, FindOptions, GroupedCountResultItem, Identifier, Model, ModelStatic,
} from 'sequelize';
import { describe, InvalidOptionError } from '../../errors.js';
import { internalsOf } from '../../store/internal.js';
import { isModel, modelName, type ModelLike } from '../model.js';
import { QueryCacheRegistrationError } from './errors.js';
import { runCached, runFinder } from './execute.js';
import type { Finder } from './hydrate.js';
import { latestRegistration, registrationWithStore } from './registry.js';

export interface CachedOptions {
  /** ms; defaults to `registerSequelizeHooks(…, { cacheQueries: { ttl } })`, then to the store's */
  ttl?: number;
  /** the Keyv to cache in (its store a CleverStore the model's Sequelize is registered with); defaults to the registered one */
  keyv?: Keyv;
}

/** Every finder takes `cache: false` to go to the database for that call. */
export interface CacheOption {
  cache?: boolean;
}

type A<M extends Model> = Attributes<M>;

/** The finders of `cached(Model)`: Sequelize's own signatures, plus `cache`. */
export interface CachedFinders<M extends Model> {
  findAll(options?: FindOptions<A<M>> & CacheOption): Promise<M[]>;
  findOne(options?: FindOptions<A<M>> & CacheOption): Promise<M | null>;
  findByPk(pk: Identifier, options?: Omit<FindOptions<A<M>>, 'where'> & CacheOption): Promise<M | null>;
  findAndCountAll(options?: Omit<FindAndCountOptions<A<M>>, 'group'> & CacheOption): Promise<{ rows: M[]; count: number }>;
  count(options: CountWithOptions<A<M>> & CacheOption): Promise<GroupedCountResultItem[]>;
  count(options?: Omit<CountOptions<A<M>>, 'group'> & CacheOption): Promise<number>;
  max<T = unknown>(field: keyof A<M> & string, options?: AggregateOptions<T, A<M>> & CacheOption): Promise<T>;
  min<T = unknown>(field: keyof A<M> & string, options?: AggregateOptions<T, A<M>> & CacheOption): Promise<T>;
  sum<T = number>(field: keyof A<M> & string, options?: AggregateOptions<T, A<M>> & CacheOption): Promise<T>;
}

const KNOWN = new Set(['ttl', 'keyv']);

function checkOptions(model: ModelLike, options: unknown): CachedOptions {
  const label = `cached(${modelName(model)})`;
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', options, `${label}: options must be an object { ttl, keyv }, got ${describe(options)}`);
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!KNOWN.has(name)) throw new InvalidOptionError(name, given[name], `${label}: unknown option '${name}' (known: ttl, keyv)`);
  }
  if (given.ttl !== undefined && (typeof given.ttl !== 'number' || !(given.ttl >= 0))) {
    throw new InvalidOptionError('ttl', given.ttl, `${label}: ttl must be a number of ms >= 0, got ${describe(given.ttl)}`);
  }
  if (given.keyv !== undefined && !internalsOf((given.keyv as { store?: unknown } | null)?.store)) {
    throw new InvalidOptionError('keyv', given.keyv, `${label}: keyv must be a Keyv whose store is a CleverStore, got ${describe(given.keyv)}`);
  }
  return given as CachedOptions;
}

/** Where a call caches: the Keyv and ttl, or undefined when `cacheQueries: false` turned caching off. */
function target(model: ModelLike, options: CachedOptions): { keyv: Keyv; ttl: number | undefined } | undefined {
  const name = modelName(model);
  if (options.keyv) {
    const registration = registrationWithStore(model.sequelize, (options.keyv as { store: object }).store);
    if (!registration) throw new QueryCacheRegistrationError(name, 'other-store', options.keyv);
    if (registration.defaults === false) return undefined;
    return { keyv: options.keyv, ttl: options.ttl ?? registration.defaults.ttl };
  }
  const registration = latestRegistration(model.sequelize);
  if (!registration) throw new QueryCacheRegistrationError(name, 'none');
  if (!registration.keyv) throw new QueryCacheRegistrationError(name, 'store');
  if (registration.defaults === false) return undefined;
  return { keyv: registration.keyv, ttl: options.ttl ?? registration.defaults.ttl };
}

/** Splits off `cache`; InvalidOptionError for options that are not an object or a `cache` that is not a boolean. */
function splitOptions(model: ModelLike, finder: Finder, options: unknown): { cache: boolean; rest: Record<string, unknown> } {
  if (options === undefined) return { cache: true, rest: {} };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', options, `cached(${modelName(model)}).${finder}(): options must be an object, got ${describe(options)}`);
  }
  const { cache, ...rest } = options as Record<string, unknown>;
  if (cache !== undefined && typeof cache !== 'boolean') {
    throw new InvalidOptionError('cache', cache, `cached(${modelName(model)}).${finder}(): cache must be a boolean, got ${describe(cache)}`);
  }
  return { cache: cache !== false, rest };
}

/**
 * The finders of `model`, cached. Each result entry depends on what the query read (see
 * docs/sequelize.md, "Caching queries"), so the hooks invalidate it exactly when a write changes
 * its result; results are the model's own instances, as the uncached finder returns them.
 * Throws InvalidOptionError for bad options; a finder rejects with QueryCacheRegistrationError
 * when no registration of the model's Sequelize instance can keep its entries exact.
 */
export function cached<M extends Model>(model: ModelStatic<M>, options?: CachedOptions): CachedFinders<M> {
  if (!isModel(model)) throw new InvalidOptionError('model', model, `cached(): the first argument must be a Sequelize model, got ${describe(model)}`);
  const m = model as unknown as ModelLike;
  const settings = checkOptions(m, options);
  const run = async (finder: Finder, args: unknown[], findOptions: unknown): Promise<unknown> => {
    const { cache, rest } = splitOptions(m, finder, findOptions);
    const where = cache && !rest.lock ? target(m, settings) : undefined; // row locks need the database
    if (!where) return runFinder(m, finder, args, rest);
    return runCached({ model: m, finder, args, options: rest, keyv: where.keyv, ttl: where.ttl });
  };
  const finders = {
    findAll: (o?: unknown) => run('findAll', [], o),
    findOne: (o?: unknown) => run('findOne', [], o),
    findByPk: (pk: unknown, o?: unknown) => run('findByPk', [pk], o),
    findAndCountAll: (o?: unknown) => run('findAndCountAll', [], o),
    count: (o?: unknown) => run('count', [], o),
    max: (field: unknown, o?: unknown) => run('max', [field], o),
    min: (field: unknown, o?: unknown) => run('min', [field], o),
    sum: (field: unknown, o?: unknown) => run('sum', [field], o),
  };
  return finders as unknown as CachedFinders<M>;
}
