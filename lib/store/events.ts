/** What a store reports: its events and its activity counters. */
import type { Dependency } from '../dependencies.js';

/** Counters of a store's activity since it was created. */
export interface CleverStoreStats {
  /** reads that found a value */
  hits: number;
  /** reads that found none */
  misses: number;
  /** entries written */
  sets: number;
  /** read-through writes refused because a dependency was invalidated while the value was computed */
  refusedStale: number;
  /** read-through misses that waited for another process's fill lock */
  lockWaits: number;
  /** invalidate calls */
  invalidations: number;
  /** entries removed by invalidations */
  invalidated: number;
  /** reads served from the in-process tier (`l1`; counted in `hits` too) */
  l1Hits: number;
  /** read-through calls that returned a value past its ttl (grace) */
  graceServed: number;
}

export const newStats = (): CleverStoreStats => ({ hits: 0, misses: 0, sets: 0, refusedStale: 0, lockWaits: 0, invalidations: 0, invalidated: 0, l1Hits: 0, graceServed: 0 });

/** A read-through call returned a value past its ttl, kept for grace. */
export interface GraceEvent {
  /** the key, as given to getOrSet */
  key: string;
  /**
   * why: the loader threw (`loader-error`), Redis did not answer the refresh (`redis-error`), or
   * `staleWhileRevalidate` served it while a refresh runs (`revalidating`)
   */
  reason: 'loader-error' | 'redis-error' | 'revalidating';
  /** the loader's error, for `loader-error` and `redis-error` */
  error?: Error;
}

/** An invalidation that ran: the same shape on every backend. */
export interface InvalidateEvent {
  /** the dependencies given to `store.invalidate()`, as given (empty for the Sequelize hooks' row changes) */
  dependencies: readonly Dependency[];
  /** the tables invalidated whole or through changed rows (the Sequelize hooks, a model given), each once */
  tables: string[];
  /** entries removed */
  removed: number;
}

/** Invalidations failed and wait for Redis: reads of their namespaces miss until `'drained'`. */
export interface PendingEvent {
  /** invalidations (or namespaces to clear) waiting */
  pending: number;
}

export interface CleverStoreEvents {
  /** a Redis failure, a lost or widened invalidation, a configuration warning (see errors.ts) */
  error: [Error];
  /** an invalidation that ran */
  invalidate: [InvalidateEvent];
  /** the first invalidation failed and was queued for retry (once, until the queue drains) */
  pending: [PendingEvent];
  /** every queued invalidation has run: reads are served from the cache again */
  drained: [];
  /** getOrSet returned a value past its ttl (grace) */
  grace: [GraceEvent];
}
