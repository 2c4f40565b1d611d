/**
 * The errors of query caching, one class per failure kind (see lib/errors.ts for the conventions:
 * bad input is a TypeError subclass, thrown before anything is read or written).
 */
import { describe, KeyvCleverError } from '../../errors.js';

/**
 * `cached(Model)` cannot keep its entries exact: no Keyv was given and the model's Sequelize
 * instance has no `registerSequelizeHooks()` registration (or one made with a bare store), or the
 * Keyv given is not one whose writes that instance's hooks invalidate.
 */
export class QueryCacheRegistrationError extends TypeError {
  /**
   * @param model the model's name
   * @param reason `'none'` no registration; `'store'` registered with a CleverStore, not a Keyv;
   *   `'other-store'` the Keyv given is not registered with that instance
   */
  constructor(readonly model: string, readonly reason: 'none' | 'store' | 'other-store', readonly value?: unknown) {
    super(reason === 'none'
      ? `cached(${model}): the Sequelize instance of ${model} has no registerSequelizeHooks(sequelize, keyv) registration, so there is no Keyv to cache in and no hook to invalidate the entries; register one first, or pass { keyv }`
      : reason === 'store'
        ? `cached(${model}): the Sequelize instance of ${model} was registered with a CleverStore, not a Keyv; pass { keyv } (a Keyv whose store is that CleverStore) or register a Keyv`
        : `cached(${model}): the Keyv given (${describe(value)}) uses a store that the Sequelize instance of ${model} is not registered with, so writes would never invalidate its entries; call registerSequelizeHooks(sequelize, keyv) with it`);
    this.name = 'QueryCacheRegistrationError';
  }
}

/** A `cached()` finder's cached result could not be turned back into what the finder returns. */
export class QueryCacheHydrationError extends KeyvCleverError {
  constructor(readonly model: string, readonly finder: string, options: { cause: unknown }) {
    super(`a cached ${model}.${finder}() result could not be rebuilt (the query ran against the database instead): ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}
