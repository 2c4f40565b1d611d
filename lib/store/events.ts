/** What a store reports: its events and its activity counters. */

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
}

export const newStats = (): CleverStoreStats => ({ hits: 0, misses: 0, sets: 0, refusedStale: 0, lockWaits: 0, invalidations: 0, invalidated: 0 });

export interface InvalidateEvent {
  /** the tags invalidated as given (row changes expand to more tags inside the backend) */
  tags: string[];
  /** entries removed */
  removed: number;
}

export interface CleverStoreEvents {
  /** a Redis failure, a lost or widened invalidation, a configuration warning (see errors.ts) */
  error: [Error];
  /** an invalidation that ran */
  invalidate: [InvalidateEvent];
}
