/**
 * The backend a store runs on, from its resolved options: the embedded engine, or Redis (the
 * client the store opens or the caller's, the eviction-policy check, and the in-process tier in
 * front when `l1` is set).
 */
import type { Backend } from '../backends/backend.js';
import { MemoryBackend } from '../backends/memory.js';
import { RedisBackend } from '../backends/redis/index.js';
import { TieredBackend } from '../backends/redis/l1/tiered.js';
import { checkEviction, openClient, whenReady } from './client.js';
import type { ResolvedOptions } from './options.js';

/** What the store hears from its backend's side. */
export interface BackendEvents {
  error(error: Error): void;
  /** Redis is ready again after a reconnection */
  reconnected(): void;
  /** a read was served from the in-process tier */
  l1Hit(): void;
}

export interface OpenedBackend {
  backend: Backend;
  /** the Redis backend (also behind the tier), undefined on the embedded engine */
  redis?: RedisBackend;
  tiered?: TieredBackend;
  /** `memory://`, or the Redis address */
  url: string;
  /** settles once the eviction policy was checked (rejects with onUnsafeEviction 'refuse') */
  ready: Promise<void>;
  /** whether calls wait for `ready` */
  awaitReady: boolean;
  /** removes what the store attached to the Redis client */
  detach?: () => void;
}

/** @internal */
export function openBackend(opts: ResolvedOptions, on: BackendEvents): OpenedBackend {
  if (opts.memory) {
    return { backend: new MemoryBackend({ raceWindow: opts.raceWindow }), url: 'memory://', ready: Promise.resolve(), awaitReady: false };
  }
  const { client, owns, url } = openClient(opts);
  if (owns) client.on('error', (error: Error) => on.error(error));
  // Redis is back: the store runs the invalidations that failed while it was away.
  const detach = whenReady(client, () => on.reconnected());
  const redis = new RedisBackend(client, {
    buckets: opts.buckets,
    invalidateChunk: opts.invalidateChunk,
    invalidateBudget: opts.invalidateBudget,
    raceWindow: opts.raceWindow,
    scanCount: opts.scanCount,
    waitForReplicas: opts.waitForReplicas,
    replicaTimeout: opts.replicaTimeout,
    onBucketMismatch: (error) => on.error(error),
  }, owns);
  const tiered = opts.l1 ? new TieredBackend(redis, opts.l1, { hit: () => on.l1Hit() }, (error) => on.error(error)) : undefined;
  const ready = opts.onUnsafeEviction === 'ignore' ? Promise.resolve() : checkEviction(redis, opts.onUnsafeEviction, (error) => on.error(error));
  // A refusing store surfaces the problem on every call; keep the rejection from being unhandled.
  ready.catch(() => undefined);
  return { backend: tiered ?? redis, redis, tiered, url, ready, awaitReady: opts.onUnsafeEviction === 'refuse', detach };
}
