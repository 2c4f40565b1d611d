/**
 * The store's options: their types, defaults and validation, each written once. The names the
 * store takes for itself (everything else goes to ioredis) come from the same definition.
 */
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis';
import { describe, InvalidOptionError } from '../errors.js';
import type { RedisClient } from '../backends/redis/index.js';

/** Eviction policies under which Redis never drops an index the store relies on. */
export const SAFE_EVICTION_POLICIES = ['noeviction', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'] as const;

/** The options the store takes for itself. */
export interface StoreOwnOptions {
  /** `redis://` or `rediss://` URL (user, password and db included) */
  url?: string;
  /** an existing ioredis client or Cluster; it stays open on `disconnect()` unless `closeClient` */
  redis?: RedisClient;
  /** Redis Cluster startup nodes: the store opens an ioredis Cluster (other ioredis options apply to each node) */
  cluster?: ClusterNode[];
  /** options of the ioredis Cluster opened for `cluster` */
  clusterOptions?: ClusterOptions;
  /** close the `redis` client given above on `disconnect()` (default false) */
  closeClient?: boolean;
  /** `'memory'` forces the embedded backend; otherwise chosen from url/redis/connection options */
  backend?: 'redis' | 'memory';
  /** namespace when used without Keyv; Keyv sets its own namespace on the store */
  namespace?: string;
  /** ttl in ms for writes that give none (default: no expiry) */
  defaultTtl?: number;
  /** reject on Redis errors instead of emitting `'error'` and degrading to a miss (default false) */
  throwOnErrors?: boolean;
  /**
   * buckets keys are spread over (default 1 on a single Redis, 16 on a cluster: a namespace then
   * spreads over up to 16 masters). Every process sharing a namespace must use the same count:
   * the namespace's first writer records it in Redis, and a store configured otherwise uses the
   * recorded one (emitting a BucketCountMismatchError to say so).
   */
  buckets?: number;
  /** most entries one invalidation script call deletes (default 250) */
  invalidateChunk?: number;
  /**
   * ms after which one invalidation script call stops, between rows, tags or slices of 10 entries, and leaves
   * the rest to the next call (default 2; Redis's clock counts whole ms, so a call may stop sooner):
   * bounds how long a huge invalidation blocks Redis at a time, however busy the machine
   */
  invalidateBudget?: number;
  /** how long a tag's generation is kept after its last invalidation, ms (default 30000) */
  raceWindow?: number;
  /**
   * an invalidation is done only once the replicas connected to each Redis process it ran on have
   * received it (Redis `WAIT`; default true): replication is asynchronous, and a master that dies
   * before its replicas got an invalidation would hand the deleted entries back with the replica
   * that takes over. Without replicas it costs next to nothing (the script reads how many are
   * connected); with them, one replica round trip per process.
   */
  waitForReplicas?: boolean;
  /**
   * ms an invalidation waits for those replicas (default 500); past it the invalidation counts as
   * failed (ReplicaTimeoutError): it rejects and is queued for retry like one Redis did not answer.
   * The node's other commands wait behind it meanwhile.
   */
  replicaTimeout?: number;
  /** what to do when Redis may evict index keys (`allkeys-*`): emit `'error'` (default), refuse, or ignore */
  onUnsafeEviction?: 'warn' | 'refuse' | 'ignore';
  /** interval of the background sweep of expired index members, ms; 0 disables (default 60000) */
  sweepInterval?: number;
  /** SCAN COUNT hint for clear, iterator and sweep (default 1000) */
  scanCount?: number;
  /**
   * most dependencies one entry may have (default 1000): a write with more is refused with an
   * InvalidOptionError before anything is written (its index work would block Redis for every
   * other client)
   */
  maxDependencies?: number;
  /**
   * failed invalidations kept for retry (default 1000); beyond it they are widened to whole tables,
   * and if that is still too much the namespace is cleared when Redis answers again
   */
  retryQueueSize?: number;
  /**
   * An in-process tier in front of Redis (Redis backend only; off by default): hits are served from
   * process memory, kept exact by Redis client tracking (see the README, "In-process tier").
   */
  l1?: L1Options;
}

/** The in-process tier's bounds. */
export interface L1Options {
  /** most entries held (default 100000) */
  maxEntries?: number;
  /** most bytes held, counting keys and values as UTF-16 plus a per-entry overhead (default 64 MiB) */
  maxBytes?: number;
  /** longest an entry is held, ms, even if its Redis expiry is later (default: its Redis expiry) */
  ttl?: number;
}

/** The tier's bounds as the store uses them. */
export interface ResolvedL1 {
  maxEntries: number;
  maxBytes: number;
  ttl: number | undefined;
}

export const L1_DEFAULTS = { maxEntries: 100_000, maxBytes: 64 * 1024 * 1024 } as const;

/** The store's own options; anything else is an ioredis option for the connections the store opens. */
export interface CleverStoreOptions extends StoreOwnOptions, Omit<RedisOptions, keyof StoreOwnOptions> {}

/** A checker turns a given value into the resolved one, or throws InvalidOptionError. */
type Check<T> = (value: unknown, name: string) => T;

const fail = (name: string, value: unknown, expected: string): never => {
  throw new InvalidOptionError(name, value, `CleverStore: ${name} must be ${expected}, got ${describe(value)}`);
};

const positiveInteger: Check<number> = (value, name) => (Number.isInteger(value) && (value as number) >= 1 ? value as number : fail(name, value, 'a positive integer'));
const nonNegativeInteger: Check<number> = (value, name) => (Number.isInteger(value) && (value as number) >= 0 ? value as number : fail(name, value, 'a non-negative integer'));
const boolean: Check<boolean> = (value, name) => (typeof value === 'boolean' ? value : fail(name, value, 'a boolean'));
const oneOf = <T extends string>(...allowed: T[]): Check<T> => (value, name) => (allowed.includes(value as T) ? value as T : fail(name, value, allowed.map((a) => `'${a}'`).join(' or ')));
const anything: Check<unknown> = (value) => value;

const L1_KEYS = new Set(['maxEntries', 'maxBytes', 'ttl']);

/** `l1`: an object of known bounds, each checked and named (`l1.maxBytes`) in the error. */
const l1: Check<ResolvedL1> = (value, name) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(name, value, 'an object { maxEntries?, maxBytes?, ttl? }');
  const given = value as Record<string, unknown>;
  const unknown = Object.keys(given).find((k) => !L1_KEYS.has(k));
  if (unknown !== undefined) fail(`${name}.${unknown}`, given[unknown], 'absent: l1 takes maxEntries, maxBytes and ttl');
  return {
    maxEntries: given.maxEntries === undefined ? L1_DEFAULTS.maxEntries : positiveInteger(given.maxEntries, `${name}.maxEntries`),
    maxBytes: given.maxBytes === undefined ? L1_DEFAULTS.maxBytes : positiveInteger(given.maxBytes, `${name}.maxBytes`),
    ttl: given.ttl === undefined ? undefined : checkTtl(given.ttl, `${name}.ttl`),
  };
};

/**
 * A ttl in ms: 0 or Infinity mean no expiry (undefined), fractions round up. `what` names it in
 * the error; a function when naming it costs (every set passes one).
 */
export function checkTtl(ttl: unknown, what: string | (() => string)): number | undefined {
  if (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0) {
    const name = typeof what === 'function' ? what() : what;
    throw new InvalidOptionError(name, ttl, `CleverStore: ${name} must be a non-negative number of milliseconds, got ${describe(ttl)}`);
  }
  if (ttl === 0 || ttl === Infinity) return undefined;
  return Math.ceil(ttl);
}

/**
 * Every option the store takes for itself: its checker and its default (a function of whether
 * the store talks to a cluster, for the one that differs). Options not listed here go to ioredis.
 */
const SPEC = {
  url: { check: (value: unknown, name: string) => (typeof value === 'string' && /^rediss?:\/\//.test(value) ? value : fail(name, value, 'a URL starting with redis:// or rediss://')) },
  redis: { check: anything },
  cluster: {
    check: (value: unknown, name: string) => (Array.isArray(value) && value.length > 0 ? value as ClusterNode[] : fail(name, value, 'a non-empty array of { host, port } startup nodes')),
  },
  clusterOptions: { check: (value: unknown, name: string) => (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : fail(name, value, 'an object of ioredis Cluster options')) },
  closeClient: { check: boolean, default: false },
  backend: { check: oneOf('redis', 'memory') },
  namespace: { check: (value: unknown, name: string) => (typeof value === 'string' ? value : fail(name, value, 'a string')) },
  defaultTtl: { check: (value: unknown, name: string) => checkTtl(value, name) },
  throwOnErrors: { check: boolean, default: false },
  buckets: { check: positiveInteger, default: (clustered: boolean) => (clustered ? 16 : 1) },
  invalidateChunk: { check: positiveInteger, default: 250 },
  invalidateBudget: { check: positiveInteger, default: 2 },
  raceWindow: { check: nonNegativeInteger, default: 30_000 },
  waitForReplicas: { check: boolean, default: true },
  replicaTimeout: { check: positiveInteger, default: 500 },
  onUnsafeEviction: { check: oneOf('warn', 'refuse', 'ignore'), default: 'warn' as const },
  sweepInterval: { check: nonNegativeInteger, default: 60_000 },
  scanCount: { check: positiveInteger, default: 1000 },
  retryQueueSize: { check: positiveInteger, default: 1000 },
  maxDependencies: { check: positiveInteger, default: 1000 },
  l1: { check: l1 },
} satisfies { [K in keyof StoreOwnOptions]-?: { check: Check<unknown>; default?: unknown } };

type Spec = typeof SPEC;
type Defaulted = { [K in keyof Spec]: Spec[K] extends { default: unknown } ? K : never }[keyof Spec];

/** The names of the store's own options (the rest of an options object is for ioredis). */
export const STORE_OPTIONS: ReadonlySet<string> = new Set(Object.keys(SPEC));

/** The defaults of the options that have one (`buckets` on a single Redis; 16 on a cluster). */
export const DEFAULTS = {
  ...Object.fromEntries(Object.entries(SPEC).filter(([, s]) => 'default' in s && typeof s.default !== 'function').map(([k, s]) => [k, (s as { default: unknown }).default])),
  buckets: SPEC.buckets.default(false),
  clusterBuckets: SPEC.buckets.default(true),
} as { [K in Exclude<Defaulted, 'buckets'>]: Spec[K] extends { default: infer D } ? D : never } & { buckets: number; clusterBuckets: number };

/** ioredis options that mean "connect to Redis" when given without a url. */
const CONNECTION_OPTIONS = ['host', 'port', 'path', 'sentinels', 'password', 'username', 'db', 'tls'];

/** The options as the store uses them: checked, defaults applied. */
export type ResolvedOptions = Omit<StoreOwnOptions, Defaulted | 'l1'> & { l1?: ResolvedL1 } & { [K in Defaulted]-?: NonNullable<StoreOwnOptions[K]> } & {
  /** the embedded backend (no Redis options given, or backend: 'memory') */
  memory: boolean;
  /** a Redis Cluster (cluster nodes, or a Cluster client given) */
  clustered: boolean;
  /** what goes to ioredis: every option not in the store's own list */
  ioredis: RedisOptions;
};

/**
 * Checks `new CleverStore(urlOrOptions, options)`'s arguments and applies the defaults; throws
 * InvalidOptionError naming the first bad option.
 */
export function resolveOptions(urlOrOptions: unknown, options: CleverStoreOptions = {}): ResolvedOptions {
  if (urlOrOptions !== undefined && typeof urlOrOptions !== 'string' && (typeof urlOrOptions !== 'object' || urlOrOptions === null)) {
    throw new InvalidOptionError('urlOrOptions', urlOrOptions, `CleverStore: expected a redis:// URL or an options object, got ${describe(urlOrOptions)}`);
  }
  const given: Record<string, unknown> = typeof urlOrOptions === 'string' ? { ...options, url: urlOrOptions } : { ...(urlOrOptions as object | undefined), ...options };
  if (given.redis !== undefined && !isClient(given.redis)) {
    throw new InvalidOptionError('redis', given.redis, `CleverStore: redis must be an ioredis Redis or Cluster client (a URL goes in url, or as the first argument), got ${describe(given.redis)}`);
  }
  const clustered = given.cluster !== undefined || (given.redis !== undefined && (given.redis as { isCluster?: boolean }).isCluster === true);
  const out: Record<string, unknown> = {};
  const ioredis: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(given)) {
    if (!STORE_OPTIONS.has(name)) ioredis[name] = value;
  }
  for (const [name, spec] of Object.entries(SPEC) as Array<[string, { check: Check<unknown>; default?: unknown }]>) {
    const value = given[name];
    if (value !== undefined) out[name] = spec.check(value, name);
    else if ('default' in spec) out[name] = typeof spec.default === 'function' ? (spec.default as (c: boolean) => unknown)(clustered) : spec.default;
  }
  const wantsRedis = out.backend === 'redis' || out.redis !== undefined || out.url !== undefined
    || out.cluster !== undefined || CONNECTION_OPTIONS.some((k) => k in given);
  const memory = out.backend === 'memory' || (out.backend === undefined && !wantsRedis);
  if (memory && out.l1 !== undefined) {
    throw new InvalidOptionError('l1', given.l1, 'CleverStore: l1 is a tier in front of Redis: give a Redis url, client or cluster (the memory backend is in process already)');
  }
  return { ...out, memory, clustered, ioredis } as unknown as ResolvedOptions;
}

/** An ioredis Redis or Cluster client, as far as the store uses one. */
function isClient(value: unknown): value is RedisClient {
  const client = value as Partial<Record<'defineCommand' | 'on' | 'pipeline', unknown>> | null;
  return typeof client === 'object' && client !== null
    && typeof client.defineCommand === 'function' && typeof client.on === 'function' && typeof client.pipeline === 'function';
}
