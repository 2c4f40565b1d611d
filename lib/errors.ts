/**
 * The errors keyv-clever raises or emits, one class per failure kind. Callers tell them apart with
 * `instanceof` and read their fields; the message is for people.
 *
 * Bad input (a wrong argument, option or dependency) is a `TypeError` subclass, thrown before
 * anything is written. Everything else is emitted as the store's `'error'` event (and rejected
 * where a caller waits for it), never thrown into the user's database write.
 */
import { inspect } from 'node:util';

/** A short, readable rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return inspect(value, { depth: 1, breakLength: Infinity, maxStringLength: 80, maxArrayLength: 5 });
}

/** Base class of the errors that are not bad input. */
export class KeyvCleverError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`keyv-clever: ${message}`, options);
    this.name = new.target.name;
  }
}

/** A dependency that is not one (unsaved instance, empty tag, NaN, an unknown object…). */
export class BadDependencyError extends TypeError {
  /**
   * @param where where the value was given (`dependsOn[2]`, `matching(Post)`, `invalidate() argument 0`)
   * @param value the value refused
   */
  constructor(readonly where: string, readonly value: unknown, message: string) {
    super(message);
    this.name = 'BadDependencyError';
  }
}

/** A bad option or argument of the store, the Sequelize hooks or the read-through. */
export class InvalidOptionError extends TypeError {
  /**
   * @param option the option or argument, as the caller wrote it (`buckets`, `ttl for key "a"`)
   * @param value the value refused
   */
  constructor(readonly option: string, readonly value: unknown, message: string) {
    super(message);
    this.name = 'InvalidOptionError';
  }
}

/**
 * A read of several keys of which only some failed (a cluster node that did not answer): `values`
 * holds what was read, undefined where the read failed; `cause` is the first failure.
 */
export class PartialReadError extends KeyvCleverError {
  constructor(readonly values: Array<string | undefined>, readonly failed: number, override readonly cause: unknown) {
    super(`${failed} of ${values.length} keys could not be read (${cause instanceof Error ? cause.message : String(cause)}); they are misses`, { cause });
  }
}

/**
 * An invalidation ran, but the replicas of a Redis process it ran on did not acknowledge it within
 * `replicaTimeout`: a failover could bring back what it deleted, so it counts as failed (rejected
 * and queued for retry).
 */
export class ReplicaTimeoutError extends KeyvCleverError {
  /**
   * @param node `host:port` of the Redis process ('' on a single Redis)
   * @param acknowledged replicas that acknowledged (undefined: the process could not be asked)
   * @param wanted replicas connected to it when the invalidation ran
   */
  constructor(readonly namespace: string, readonly node: string, readonly acknowledged: number | undefined, readonly wanted: number, readonly timeout: number) {
    super(acknowledged === undefined
      ? `an invalidation in namespace '${namespace}' ran on Redis ${node}, which the cluster client no longer lists: its replicas could not be asked`
      : `an invalidation in namespace '${namespace}' reached ${acknowledged} of the ${wanted} replica(s) of Redis ${node || 'server'} within replicaTimeout (${timeout} ms); a failover could bring back what it deleted, so it counts as failed`);
  }
}

/**
 * The namespace is recorded in Redis with another bucket count than this store was configured
 * with; the store uses the recorded one from now on (emitted once, as a warning).
 */
export class BucketCountMismatchError extends KeyvCleverError {
  constructor(readonly namespace: string, readonly configured: number, readonly recorded: number) {
    super(`namespace '${namespace}' is stored in Redis over ${recorded} bucket(s), but this store is configured with buckets: ${configured}; `
      + `it uses ${recorded}, like the store that recorded it. Give every store of a namespace the same buckets (to change it, clear the namespace or use a new one)`);
  }
}

/** A write kept being refused because the namespace's recorded bucket count changed under it again and again. */
export class BucketCountUnstableError extends KeyvCleverError {
  constructor(readonly namespace: string, readonly bucket: string) {
    super(`namespace '${namespace}': bucket ${bucket} keeps refusing writes (its recorded bucket count changes under this store)`);
  }
}

/**
 * The queue of failed invalidations outgrew `retryQueueSize`: its requests were widened to whole
 * tables and tags (`action: 'widened'`), or, still too many, the namespace will be cleared when
 * Redis answers again (`action: 'clear'`). Nothing is lost either way; more is removed.
 */
export class RetryQueueOverflowError extends KeyvCleverError {
  constructor(readonly namespace: string, readonly action: 'widened' | 'clear') {
    super(action === 'clear'
      ? `the invalidation retry queue overflowed; namespace '${namespace}' will be cleared when Redis answers again`
      : `the invalidation retry queue overflowed; pending invalidations of namespace '${namespace}' were widened to whole tables and tags`);
  }
}

/** The store was disconnected while failed invalidations still waited for Redis: they are lost. */
export class InvalidationsDroppedError extends KeyvCleverError {
  constructor(readonly count: number) {
    super(`${count} failed invalidation(s) dropped on disconnect; entries they covered may be stale until their ttl`);
  }
}

/**
 * The read-through could not capture the generations of a value's dependencies because
 * invalidations of the namespace are waiting for Redis: the value is computed but not cached.
 * `getOrSet` handles it quietly (the store's `'pending'` event already said so); it reaches a
 * caller only through the internal capture path.
 */
export class StaleCaptureError extends KeyvCleverError {
  constructor(readonly namespace: string, readonly pending: number) {
    super(`invalidations of namespace '${namespace}' are waiting for Redis (${pending} pending); values are computed but not cached until they have run`);
  }
}

/**
 * Redis may evict keys the store relies on (`maxmemory-policy` is `allkeys-*`), which would miss
 * invalidations; or the policy could not be read (`policy` undefined, `cause` says why).
 */
export class UnsafeEvictionError extends KeyvCleverError {
  constructor(readonly policy: string | undefined, readonly safe: readonly string[], options?: { cause?: unknown }) {
    super(policy === undefined
      ? `could not read maxmemory-policy (${(options?.cause as Error | undefined)?.message ?? 'unknown reason'}); make sure it is one of ${safe.join(', ')}`
      : `Redis maxmemory-policy is '${policy}', which may evict dependency indexes and so miss invalidations (stale data). Use one of ${safe.join(', ')}`, options);
  }
}

/** The Sequelize hooks could not read the rows a write changes; the whole table is invalidated instead. */
export class PrequeryError extends KeyvCleverError {
  constructor(readonly model: string, options: { cause: unknown }) {
    super(`could not read the rows a write to ${model} changes (the whole table will be invalidated): ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}

/**
 * The foreign keys the database declares could not be read (Sequelize hooks): the write's
 * cascades are widened to every table known to reference the written one.
 */
export class ForeignKeyCatalogError extends KeyvCleverError {
  constructor(readonly dialect: string, options: { cause: unknown }) {
    super(`could not read the foreign keys the ${dialect || 'database'} catalog declares (the cascades of the write are widened): ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}

/**
 * A Keyv 6 wrote through a store that `attachKeyv` (or `createKeyv`, `registerSequelizeHooks`,
 * `getOrSet`) did not wire: Keyv 6 drops a `{ ttl, dependsOn }` options object before the store
 * sees it, so such a write would be stored without its ttl and its dependencies. Reported once
 * per store; the write itself goes on with what reached the store.
 */
export class UnattachedKeyvError extends KeyvCleverError {
  constructor(readonly namespace: string) {
    super(`a Keyv 6 wrote to a CleverStore (namespace '${namespace}') that is not attached to it: Keyv 6 drops set options such as { ttl, dependsOn } before the store sees them. `
      + 'Build it with createKeyv(…), or call attachKeyv(keyv) once after new Keyv({ store })');
  }
}

/**
 * The options an attached Keyv 6 parked for a write were gone when the write reached the store
 * (far more writes in flight than the store keeps parked); the write is refused, not stored
 * without its ttl and dependencies.
 */
export class SetOptionsLostError extends KeyvCleverError {
  constructor(readonly key: string, readonly limit: number) {
    super(`the set options of key ${JSON.stringify(key)} were gone when the write reached the store (more than ${limit} writes parked at once); the write is refused`);
  }
}

/** Wraps anything thrown into an Error (a rejection with a string, say). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
