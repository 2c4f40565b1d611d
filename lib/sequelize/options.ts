/**
 * The options of registerSequelizeHooks: their types, defaults and checks, each written once; the
 * list of known option names comes from the same definition.
 */
import { InvalidOptionError } from '../errors.js';
import { describe } from './model.js';
import type { CacheQueriesOptions } from './query-cache/registry.js';

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
  /**
   * Defaults of `cached(Model)` query caching on this Sequelize instance: `{ ttl }` (ms) for every
   * cached finder that gives none; `false` sends every `cached()` finder of the instance to the
   * database. Default `{}`: cached, no default ttl beyond the store's.
   */
  cacheQueries?: CacheQueriesOptions | false;
}

/** @internal The options with their defaults applied. */
export type ResolvedHooksOptions = Required<SequelizeHooksOptions>;

type Check<T> = (value: unknown, name: string) => T;

const PREFIX = 'registerSequelizeHooks():';

const fail = (name: string, value: unknown, expected: string): never => {
  throw new InvalidOptionError(name, value, `${PREFIX} ${name} must be ${expected}, got ${describe(value)}`);
};
const integerAtLeast = (min: number): Check<number> => (value, name) => (Number.isInteger(value) && (value as number) >= min ? value as number : fail(name, value, `an integer >= ${min}`));
const boolean: Check<boolean> = (value, name) => (typeof value === 'boolean' ? value : fail(name, value, 'a boolean'));
const cacheQueries: Check<CacheQueriesOptions | false> = (value, name) => {
  if (value === false) return false;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(name, value, 'false or an object { ttl }');
  for (const [key, v] of Object.entries(value)) {
    if (key !== 'ttl') return fail(`${name}.${key}`, v, 'absent (known: ttl)');
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0))) return fail(`${name}.ttl`, v, 'a number of ms >= 0');
  }
  return { ...(value as CacheQueriesOptions) };
};

/** Every option: its check and its default. */
const SPEC = {
  prequeryLimit: { check: integerAtLeast(0), default: 1000 },
  maxRowImages: { check: integerAtLeast(1), default: 10_000 },
  cascades: { check: boolean, default: true },
  safetyNet: { check: boolean, default: true },
  rawQueries: { check: boolean, default: true },
  cacheQueries: { check: cacheQueries, default: {} },
} satisfies { [K in keyof SequelizeHooksOptions]-?: { check: Check<NonNullable<SequelizeHooksOptions[K]>>; default: NonNullable<SequelizeHooksOptions[K]> } };

/** @internal The names of the options, in their documented order. */
export const HOOK_OPTIONS: readonly string[] = Object.keys(SPEC);

/**
 * Checks the options of registerSequelizeHooks and applies the defaults; throws
 * InvalidOptionError naming the first bad option (in the order given).
 * @internal
 */
export function resolveHooksOptions(options: unknown): ResolvedHooksOptions {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new InvalidOptionError('options', options, `${PREFIX} options must be an object, got ${describe(options)}`);
  }
  const given = (options ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(given)) {
    const spec: { check: Check<unknown> } | undefined = Object.prototype.hasOwnProperty.call(SPEC, name) ? SPEC[name as keyof typeof SPEC] : undefined;
    if (!spec) {
      throw new InvalidOptionError(name, value, `${PREFIX} unknown option '${name}' (known: ${HOOK_OPTIONS.join(', ')})`);
    }
    if (value !== undefined) out[name] = spec.check(value, name);
  }
  for (const [name, spec] of Object.entries(SPEC)) if (out[name] === undefined) out[name] = spec.default;
  return out as ResolvedHooksOptions;
}
