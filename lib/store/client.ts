/**
 * The Redis side of a store's start: the ioredis client it opens (or the caller's), the
 * reconnection signal shared by every store on one client, and the eviction-policy check.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisBackend, RedisClient } from '../backends/redis/index.js';
import { UnsafeEvictionError } from '../errors.js';
import { SAFE_EVICTION_POLICIES, type ResolvedOptions } from './options.js';

/**
 * ioredis defaults for the connections the store opens: a cache must fail fast, not queue
 * commands for seconds while Redis is away. Each can be overridden in the options.
 */
const FAIL_FAST: RedisOptions = { commandTimeout: 2000, maxRetriesPerRequest: 1, connectTimeout: 2000 };

/** The client a store talks to, and whether the store closes it on disconnect. */
export function openClient(options: ResolvedOptions): { client: RedisClient; owns: boolean; url: string } {
  const ioredis: RedisOptions = { ...FAIL_FAST, ...options.ioredis };
  const client: RedisClient = options.redis
    ?? (options.cluster ? new Cluster(options.cluster, { ...options.clusterOptions, redisOptions: { ...ioredis, ...options.clusterOptions?.redisOptions } })
      : options.url ? new Redis(options.url, ioredis) : new Redis(ioredis));
  const first = options.cluster?.[0];
  const url = options.url ?? (first && typeof first === 'object' ? `redis://${first.host ?? '127.0.0.1'}:${first.port ?? 6379}` : 'redis://');
  return { client, owns: options.redis === undefined || options.closeClient, url };
}

/** What the stores sharing a Redis client run when it is ready again (after a reconnection). */
const onReady = new WeakMap<RedisClient, Set<() => void>>();

/**
 * Runs `callback` each time `client` is ready again, until the returned function is called. One
 * listener per client however many stores share it (a listener per store would trip Node's
 * 10-listener warning at the 11th namespace, and keep closed stores alive).
 */
export function whenReady(client: RedisClient, callback: () => void): () => void {
  let callbacks = onReady.get(client);
  if (!callbacks) {
    const all = new Set<() => void>();
    client.on('ready', () => { for (const run of all) run(); });
    onReady.set(client, (callbacks = all));
  }
  callbacks.add(callback);
  return () => callbacks.delete(callback);
}

/**
 * Reads `maxmemory-policy` on every master: under `allkeys-*` an evicted index means a missed
 * invalidation. Resolves quietly when it is safe; otherwise reports an UnsafeEvictionError, or
 * rejects with it when `refuse`. A policy that cannot be read (CONFIG disabled on managed Redis)
 * is reported, never refused.
 */
export async function checkEviction(backend: RedisBackend, onUnsafe: 'warn' | 'refuse', report: (error: Error) => void): Promise<void> {
  let policies: string[];
  try {
    policies = await backend.evictionPolicies();
  } catch (error) {
    report(new UnsafeEvictionError(undefined, SAFE_EVICTION_POLICIES, { cause: error }));
    return;
  }
  const unsafe = policies.find((p) => !(SAFE_EVICTION_POLICIES as readonly string[]).includes(p));
  if (unsafe === undefined) return;
  const error = new UnsafeEvictionError(unsafe, SAFE_EVICTION_POLICIES);
  if (onUnsafe === 'refuse') throw error;
  report(error);
}
