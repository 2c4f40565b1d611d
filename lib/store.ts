import { EventEmitter } from 'node:events';
import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { PartialReadError, type Backend, type Capture, type WriteEntry } from './backends/backend.js';
import { MemoryBackend } from './backends/memory.js';
import { RedisBackend, type RedisClient } from './backends/redis.js';
import { currentDependencies } from './context.js';
import { logger } from './log.js';
import { RetryQueue } from './retry-queue.js';

const log = logger('store');
import {
  compileDependencies, compileInvalidation, describe, type CompiledDependencies, type Dependency, type Invalidation,
} from './dependencies.js';

/** Options of `keyv.set(key, value, options)` and of `setMany` entries' `ttl` field. */
export interface CleverSetOptions {
  /** milliseconds; 0 or Infinity = no expiry; defaults to the store's `defaultTtl` */
  ttl?: number;
  /** what the value was computed from; invalidating any of them removes the entry */
  dependsOn?: Dependency[];
}

/** Eviction policies under which Redis never drops an index the store relies on. */
export const SAFE_EVICTION_POLICIES = ['noeviction', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'] as const;

export interface CleverStoreOptions extends RedisOptions {
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
   * recorded one (emitting `'error'` to say so).
   */
  buckets?: number;
  /** most entries one invalidation script call deletes (default 250) */
  invalidateChunk?: number;
  /**
   * ms after which one invalidation script call stops, between rows, tags or slices of 50 entries, and leaves
   * the rest to the next call (default 2): bounds how long a huge invalidation blocks Redis at a
   * time, however busy the machine
   */
  invalidateBudget?: number;
  /** how long a tag's generation is kept after its last invalidation, ms (default 30000) */
  raceWindow?: number;
  /**
   * an invalidation is done only once the replicas connected to each Redis process it ran on have
   * received it (Redis `WAIT`; default true): replication is asynchronous, and a master that dies
   * before its replicas got an invalidation would hand the deleted entries back with the replica
   * that takes over. Without replicas it costs a few µs (the script reads how many are connected);
   * with them, one replica round trip per process.
   */
  waitForReplicas?: boolean;
  /**
   * ms an invalidation waits for those replicas (default 500); past it the invalidation counts as
   * failed: it rejects and is queued for retry like one Redis did not answer. The node's other
   * commands wait behind it meanwhile.
   */
  replicaTimeout?: number;
  /** what to do when Redis may evict index keys (`allkeys-*`): emit `'error'` (default), refuse, or ignore */
  onUnsafeEviction?: 'warn' | 'refuse' | 'ignore';
  /** interval of the background sweep of expired index members, ms; 0 disables (default 60000) */
  sweepInterval?: number;
  /** SCAN COUNT hint for clear, iterator and sweep (default 1000) */
  scanCount?: number;
  /**
   * failed invalidations kept for retry (default 1000); beyond it they are widened to whole tables,
   * and if that is still too much the namespace is cleared when Redis answers again
   */
  retryQueueSize?: number;
}

/**
 * ioredis defaults for the connections the store opens: a cache must fail fast, not queue
 * commands for seconds while Redis is away. Each can be overridden in the options.
 */
/** The defaults of the store's own options (see CleverStoreOptions). */
export const DEFAULTS = {
  buckets: 1,
  clusterBuckets: 16,
  invalidateChunk: 250,
  invalidateBudget: 2,
  raceWindow: 30_000,
  replicaTimeout: 500,
  scanCount: 1000,
  sweepInterval: 60_000,
  retryQueueSize: 1000,
} as const;

const FAIL_FAST: RedisOptions = { commandTimeout: 2000, maxRetriesPerRequest: 1, connectTimeout: 2000 };

const STORE_OPTIONS = new Set([
  'url', 'redis', 'cluster', 'clusterOptions', 'closeClient', 'backend', 'namespace', 'defaultTtl', 'throwOnErrors', 'buckets',
  'invalidateChunk', 'invalidateBudget', 'raceWindow', 'waitForReplicas', 'replicaTimeout', 'onUnsafeEviction', 'sweepInterval', 'scanCount', 'retryQueueSize',
]);
const CONNECTION_OPTIONS = ['host', 'port', 'path', 'sentinels', 'password', 'username', 'db', 'tls'];
const SET_OPTIONS = new Set(['ttl', 'dependsOn']);

/**
 * Carried in set options by the read-through, through Keyv untouched: generation guards (the
 * write is refused if a tag moved since they were read) and the fill lock to release.
 */
export const READ_THROUGH = Symbol('keyv-clever.readThrough');
export interface ReadThroughWrite {
  guards: Array<[string, number]>;
  unlock?: string;
}

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

export interface InvalidateEvent {
  /** the tags invalidated as given (row changes expand to more tags inside the backend) */
  tags: string[];
  /** entries removed */
  removed: number;
}

export interface CleverStoreEvents {
  error: [Error];
  invalidate: [InvalidateEvent];
}

/**
 * A Keyv storage adapter whose entries carry dependencies, kept as reverse indexes.
 *
 * ```ts
 * const keyv = new Keyv({ store: new CleverStore(process.env.REDIS_URL) });
 * await keyv.set('home', html, { ttl: 60_000, dependsOn: ['homepage', matching('posts', { status: 'published' })] });
 * await keyv.store.invalidate('homepage'); // -> 1
 * ```
 * `new CleverStore()` uses the embedded in-memory backend (one process, no server).
 */
export class CleverStore extends EventEmitter<CleverStoreEvents> {
  /** Keyv reads `opts.dialect` to wire its iterator; both backends have Redis semantics. */
  readonly opts: { dialect: 'redis'; url: string; [option: string]: unknown };
  namespace: string | undefined;
  throwOnErrors: boolean;
  readonly defaultTtl: number | undefined;
  private readonly backend: Backend;
  private readonly ready: Promise<void>;
  private readonly awaitReady: boolean;
  private readonly namespacesUsed = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** removes what the store attached to its Redis client (see disconnect) */
  private detach: (() => void) | undefined;
  private readonly retries: RetryQueue;
  /** activity counters (see CleverStoreStats) */
  readonly stats: CleverStoreStats = { hits: 0, misses: 0, sets: 0, refusedStale: 0, lockWaits: 0, invalidations: 0, invalidated: 0 };

  constructor(urlOrOptions?: string | CleverStoreOptions, options: CleverStoreOptions = {}) {
    super();
    const opts: CleverStoreOptions = typeof urlOrOptions === 'string' ? { ...options, url: urlOrOptions } : { ...(urlOrOptions ?? {}), ...options };
    if (urlOrOptions !== undefined && typeof urlOrOptions !== 'string' && (typeof urlOrOptions !== 'object' || urlOrOptions === null)) {
      throw new TypeError(`CleverStore: expected a redis:// URL or an options object, got ${describe(urlOrOptions)}`);
    }
    if (opts.url !== undefined && !/^rediss?:\/\//.test(opts.url)) {
      throw new TypeError(`CleverStore: the URL must start with redis:// or rediss://, got ${describe(opts.url)}`);
    }
    if (opts.redis !== undefined && !isClient(opts.redis)) {
      throw new TypeError(`CleverStore: redis must be an ioredis Redis or Cluster client (a URL goes in url, or as the first argument), got ${describe(opts.redis)}`);
    }
    if (opts.backend !== undefined && opts.backend !== 'redis' && opts.backend !== 'memory') {
      throw new TypeError(`CleverStore: backend must be 'redis' or 'memory', got ${describe(opts.backend)}`);
    }
    this.defaultTtl = opts.defaultTtl === undefined ? undefined : checkTtl(opts.defaultTtl, 'defaultTtl');
    const clustered = opts.cluster !== undefined || (opts.redis !== undefined && (opts.redis as Cluster).isCluster === true);
    if (opts.cluster !== undefined && (!Array.isArray(opts.cluster) || opts.cluster.length === 0)) {
      throw new TypeError(`CleverStore: cluster must be a non-empty array of { host, port } startup nodes, got ${describe(opts.cluster)}`);
    }
    const buckets = positiveInteger(opts.buckets ?? (clustered ? DEFAULTS.clusterBuckets : DEFAULTS.buckets), 'buckets');
    const invalidateChunk = positiveInteger(opts.invalidateChunk ?? DEFAULTS.invalidateChunk, 'invalidateChunk');
    const invalidateBudget = positiveInteger(opts.invalidateBudget ?? DEFAULTS.invalidateBudget, 'invalidateBudget');
    const raceWindow = nonNegativeInteger(opts.raceWindow ?? DEFAULTS.raceWindow, 'raceWindow');
    const waitForReplicas = opts.waitForReplicas ?? true;
    if (typeof waitForReplicas !== 'boolean') throw new TypeError(`CleverStore: waitForReplicas must be a boolean, got ${describe(waitForReplicas)}`);
    const replicaTimeout = positiveInteger(opts.replicaTimeout ?? DEFAULTS.replicaTimeout, 'replicaTimeout');
    const scanCount = positiveInteger(opts.scanCount ?? DEFAULTS.scanCount, 'scanCount');
    const sweepInterval = nonNegativeInteger(opts.sweepInterval ?? DEFAULTS.sweepInterval, 'sweepInterval');
    const retryQueueSize = positiveInteger(opts.retryQueueSize ?? DEFAULTS.retryQueueSize, 'retryQueueSize');
    const onUnsafe = opts.onUnsafeEviction ?? 'warn';
    if (!['warn', 'refuse', 'ignore'].includes(onUnsafe)) {
      throw new TypeError(`CleverStore: onUnsafeEviction must be 'warn', 'refuse' or 'ignore', got ${describe(onUnsafe)}`);
    }
    this.namespace = opts.namespace;
    this.throwOnErrors = opts.throwOnErrors ?? false;

    const wantsRedis = opts.backend === 'redis' || opts.redis !== undefined || opts.url !== undefined
      || opts.cluster !== undefined || CONNECTION_OPTIONS.some((k) => k in opts);
    if (opts.backend === 'memory' || (opts.backend === undefined && !wantsRedis)) {
      this.backend = new MemoryBackend({ raceWindow });
      this.opts = { dialect: 'redis', url: 'memory://', namespace: opts.namespace };
      this.ready = Promise.resolve();
      this.awaitReady = false;
    } else {
      const ioredisOptions: RedisOptions = { ...FAIL_FAST };
      for (const [k, v] of Object.entries(opts)) if (!STORE_OPTIONS.has(k)) (ioredisOptions as Record<string, unknown>)[k] = v;
      const client: RedisClient = opts.redis
        ?? (opts.cluster ? new Cluster(opts.cluster, { ...opts.clusterOptions, redisOptions: { ...ioredisOptions, ...opts.clusterOptions?.redisOptions } })
          : opts.url ? new Redis(opts.url, ioredisOptions) : new Redis(ioredisOptions));
      const owns = opts.redis === undefined || opts.closeClient === true;
      if (owns) client.on('error', (error: Error) => this.emitError(error));
      // Redis is back: run the invalidations that failed while it was away.
      this.detach = whenReady(client, () => { void this.retries.drain(); });
      const onBucketMismatch = (error: Error): void => this.emitError(error);
      const backend = new RedisBackend(client, { buckets, invalidateChunk, invalidateBudget, raceWindow, scanCount, waitForReplicas, replicaTimeout, onBucketMismatch }, owns);
      this.backend = backend;
      const first = opts.cluster?.[0];
      const url = opts.url ?? (first && typeof first === 'object' ? `redis://${first.host ?? '127.0.0.1'}:${first.port ?? 6379}` : 'redis://');
      this.opts = { dialect: 'redis', url, namespace: opts.namespace };
      this.awaitReady = onUnsafe === 'refuse';
      this.ready = onUnsafe === 'ignore' ? Promise.resolve() : this.checkEviction(backend, onUnsafe);
      // A refusing store surfaces the problem on every call; keep the rejection from being unhandled.
      this.ready.catch(() => undefined);
    }
    this.retries = new RetryQueue({
      size: retryQueueSize,
      minDelay: 100,
      maxDelay: 5000,
      run: (ns, request) => this.backend.invalidate(ns, request),
      clear: (ns) => this.backend.clear(ns),
      report: (error) => this.emitError(error),
    });
    if (sweepInterval > 0) {
      this.sweepTimer = setInterval(() => { this.sweep().catch(() => undefined); }, sweepInterval);
      this.sweepTimer.unref();
    }
  }

  /** The ioredis client behind the store (undefined on the memory backend). */
  get client(): RedisClient | undefined {
    return this.backend instanceof RedisBackend ? this.backend.client : undefined;
  }

  /** `'redis'` or `'memory'`. */
  get backendKind(): 'redis' | 'memory' {
    return this.backend.kind;
  }

  private async checkEviction(backend: RedisBackend, onUnsafe: 'warn' | 'refuse'): Promise<void> {
    let policies: string[];
    try {
      policies = await backend.evictionPolicies();
    } catch (error) {
      // CONFIG may be disabled (managed Redis, ACL): say so once, but it is no reason to refuse.
      this.emitError(new Error(`keyv-clever: could not read maxmemory-policy (${(error as Error).message}); make sure it is one of ${SAFE_EVICTION_POLICIES.join(', ')}`));
      return;
    }
    const unsafe = policies.filter((p) => !(SAFE_EVICTION_POLICIES as readonly string[]).includes(p));
    if (unsafe.length === 0) return;
    const error = new Error(`keyv-clever: Redis maxmemory-policy is '${unsafe[0]}', which may evict dependency indexes and so miss invalidations (stale data). Use one of ${SAFE_EVICTION_POLICIES.join(', ')}`);
    if (onUnsafe === 'refuse') throw error;
    this.emitError(error);
  }

  /** Emits `'error'`; like Keyv, an 'error' with no listener is not thrown at the caller. */
  emitError(error: Error): void {
    log('error: %s', error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** Reports a backend failure: rethrown with throwOnErrors, otherwise emitted and degraded. */
  private fail<T>(error: unknown, fallback: T): T {
    const err = error instanceof Error ? error : new Error(String(error));
    this.emitError(err);
    if (this.throwOnErrors) throw err;
    return fallback;
  }

  private async run<T>(op: () => Promise<T>, fallback: T): Promise<T> {
    try {
      if (this.awaitReady) await this.ready;
      return await op();
    } catch (error) {
      return this.fail(error, fallback);
    }
  }

  private ns(): string {
    const ns = this.namespace ?? '';
    this.namespacesUsed.add(ns);
    return ns;
  }

  /** Removes Keyv's `namespace:` prefix: keys are stored under the namespace exactly once. */
  private localKey(key: unknown, ns: string): string {
    if (typeof key !== 'string') throw new TypeError(`CleverStore: a key must be a string, got ${describe(key)}`);
    return ns !== '' && key.startsWith(`${ns}:`) ? key.slice(ns.length + 1) : key;
  }

  /** Validates one write and compiles its dependencies; throws TypeError before anything is written. */
  private prepare(ns: string, key: unknown, value: unknown, ttlOrOptions: unknown): WriteEntry {
    const local = this.localKey(key, ns);
    if (typeof value !== 'string') {
      throw new TypeError(`CleverStore: value for key ${describe(key)} must be a string (Keyv serializes values before they reach the store), got ${describe(value)}`);
    }
    let ttl: number | undefined;
    let dependsOn: unknown[] = [];
    if (ttlOrOptions === undefined || ttlOrOptions === null) {
      ttl = this.defaultTtl;
    } else if (typeof ttlOrOptions === 'object' && !Array.isArray(ttlOrOptions)) {
      const options = ttlOrOptions as Record<string, unknown>;
      for (const name of Object.keys(options)) {
        if (!SET_OPTIONS.has(name)) throw new TypeError(`CleverStore: unknown set option '${name}' for key ${describe(key)}; expected ttl or dependsOn`);
      }
      ttl = options.ttl === undefined ? this.defaultTtl : checkTtl(options.ttl, () => `ttl for key ${describe(key)}`);
      if (options.dependsOn !== undefined) {
        if (!Array.isArray(options.dependsOn)) throw new TypeError(`CleverStore: dependsOn for key ${describe(key)} must be an array, got ${describe(options.dependsOn)}`);
        dependsOn = options.dependsOn;
      }
    } else {
      ttl = checkTtl(ttlOrOptions, () => `ttl for key ${describe(key)}`);
    }
    const scoped = currentDependencies();
    const deps: CompiledDependencies = compileDependencies(scoped ? [...scoped, ...dependsOn] : dependsOn,
      scoped ? 'withDependencies() + dependsOn' : 'dependsOn');
    const readThrough = (ttlOrOptions as { [READ_THROUGH]?: ReadThroughWrite } | undefined)?.[READ_THROUGH];
    return { key: local, value, ttl, deps, guards: readThrough?.guards, unlock: readThrough?.unlock };
  }

  /** Writes entries, counting what was written and what the guards refused. */
  private async write(ns: string, entries: WriteEntry[]): Promise<boolean[]> {
    const written = await this.backend.set(ns, entries);
    written.forEach((ok, i) => {
      if (ok) this.stats.sets++;
      else if (entries[i]!.guards) {
        this.stats.refusedStale++;
        log('refused a stale write-back of %j in %j: a dependency was invalidated while it was computed', entries[i]!.key, ns);
      }
    });
    return written;
  }

  private count<T>(value: T): T {
    if (value === undefined) this.stats.misses++;
    else this.stats.hits++;
    return value;
  }

  /**
   * While invalidations of the namespace wait for Redis, any cached value may be stale: reads
   * are misses until the retry queue has drained.
   */
  private stale(ns: string): boolean {
    return this.retries.size > 0 && this.retries.affects(ns);
  }

  async get(key: string): Promise<string | undefined> {
    const ns = this.ns();
    const local = this.localKey(key, ns);
    if (this.stale(ns)) return this.count(undefined);
    return this.run(async () => this.count(await this.backend.get(ns, local)), undefined);
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    const ns = this.ns();
    const locals = checkKeys(keys).map((k) => this.localKey(k, ns));
    if (locals.length === 0) return [];
    if (this.stale(ns)) return locals.map(() => this.count(undefined));
    try {
      if (this.awaitReady) await this.ready;
      return (await this.backend.getMany(ns, locals)).map((v) => this.count(v));
    } catch (error) {
      // One cluster node not answering leaves what the others answered.
      return this.fail(error, error instanceof PartialReadError ? error.values.map((v) => this.count(v)) : locals.map(() => undefined));
    }
  }

  async has(key: string): Promise<boolean> {
    const ns = this.ns();
    const local = this.localKey(key, ns);
    if (this.stale(ns)) return false;
    return this.run(async () => (await this.backend.hasMany(ns, [local]))[0]!, false);
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    const ns = this.ns();
    const locals = checkKeys(keys).map((k) => this.localKey(k, ns));
    if (locals.length === 0) return [];
    if (this.stale(ns)) return locals.map(() => false);
    return this.run(() => this.backend.hasMany(ns, locals), locals.map(() => false));
  }

  /**
   * Stores a serialized value. The third argument is a ttl in ms or `{ ttl, dependsOn }`;
   * dependencies attached with `withDependencies` are added. Resolves to true once written.
   */
  async set(key: string, value: string, ttl?: number | CleverSetOptions): Promise<boolean> {
    const ns = this.ns();
    const entry = this.prepare(ns, key, value, ttl);
    return this.run(async () => (await this.write(ns, [entry]))[0]!, false);
  }

  /** Stores many values in one round trip per bucket; each entry's `ttl` may be `{ ttl, dependsOn }`. */
  async setMany(entries: Array<{ key: string; value: string; ttl?: number | CleverSetOptions }>): Promise<boolean[]> {
    if (!Array.isArray(entries)) throw new TypeError(`CleverStore: setMany expects an array of { key, value, ttl }, got ${describe(entries)}`);
    const ns = this.ns();
    const prepared = entries.map((e, i) => {
      if (e === null || typeof e !== 'object') throw new TypeError(`CleverStore: setMany entry ${i} is ${describe(e)}, expected { key, value, ttl }`);
      return this.prepare(ns, e.key, e.value, e.ttl);
    });
    if (prepared.length === 0) return [];
    return this.run(() => this.write(ns, prepared), prepared.map(() => false));
  }

  /** Resolves to true when the key existed. */
  async delete(key: string): Promise<boolean> {
    const ns = this.ns();
    const local = this.localKey(key, ns);
    return this.run(async () => (await this.backend.delete(ns, [local])) > 0, false);
  }

  /** Resolves to true when at least one of the keys existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const ns = this.ns();
    const locals = checkKeys(keys).map((k) => this.localKey(k, ns));
    if (locals.length === 0) return false;
    return this.run(async () => (await this.backend.delete(ns, locals)) > 0, false);
  }

  /** Removes this namespace's values and index structures, and nothing else. */
  async clear(): Promise<void> {
    const ns = this.ns();
    await this.run(() => this.backend.clear(ns), undefined);
  }

  /** Yields `[key, serializedValue]` for the namespace, keys prefixed with `namespace:` as Keyv expects. */
  async *iterator(namespace?: string): AsyncGenerator<[string, string], void> {
    const ns = namespace ?? this.ns();
    if (this.stale(ns)) return;
    try {
      if (this.awaitReady) await this.ready;
      for await (const [key, value] of this.backend.iterate(ns)) yield [ns === '' ? key : `${ns}:${key}`, value];
    } catch (error) {
      this.fail(error, undefined);
    }
  }

  /**
   * Removes every entry that depends on any of `deps` and resolves to the number removed.
   * A string is a tag; `matching(table, where)` that conjunction (and the whole-table entries);
   * `matching(table)` or a model everything on that table; an instance its row's conjunctions.
   * Rejects if the backend fails: a lost invalidation must not pass unnoticed.
   */
  async invalidate(...deps: Dependency[]): Promise<number> {
    return this.invalidateRequest(compileInvalidation(deps));
  }

  /**
   * Carries out a compiled invalidation (integrations build these from row changes). If Redis
   * fails, the request is queued for retry (reads of the namespace miss until it has run) and
   * the call rejects.
   */
  async invalidateRequest(request: Invalidation): Promise<number> {
    const ns = this.ns();
    if (request.tags.length === 0 && request.rows.length === 0) return 0;
    try {
      if (this.awaitReady) await this.ready;
      const started = log.enabled ? performance.now() : 0;
      const { removed, tags } = await this.backend.invalidate(ns, request);
      if (log.enabled) {
        log('invalidated %j in %j: %d removed in %s ms', [...tags, ...request.rows.map((r) => `row of ${r.table}`)], ns, removed, (performance.now() - started).toFixed(2));
      }
      this.stats.invalidations++;
      this.stats.invalidated += removed;
      if (this.listenerCount('invalidate') > 0) this.emit('invalidate', { tags, removed });
      return removed;
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      log('invalidation in %j failed (%s): queued for retry', ns, err.message);
      this.retries.add(ns, request);
      this.emitError(err);
      throw err;
    }
  }

  /** Like `invalidateRequest`, but never rejects: a failure is emitted and left to the retry queue. */
  async invalidateOrQueue(request: Invalidation): Promise<number> {
    return this.invalidateRequest(request).catch(() => 0);
  }

  /** Invalidations that failed and wait for Redis to answer again. */
  get pendingInvalidations(): number {
    return this.retries.size;
  }

  /** Retries the failed invalidations now; resolves once the attempt is over (see pendingInvalidations). */
  async flushInvalidations(): Promise<void> {
    await this.retries.drain();
  }

  /** The keys (inside the namespace) currently listed under a dependency, for debugging. */
  async entriesFor(dep: Dependency): Promise<string[]> {
    const ns = this.ns();
    const { tags } = compileDependencies([dep], 'entriesFor()');
    // An entry of a conjunction is listed under it and under its scheme's tag; ask the first.
    return this.backend.entriesFor(ns, tags.filter((t) => !t.startsWith('a:')));
  }

  /**
   * The miss path of the read-through (getOrSet): the value if it appeared meanwhile, or the
   * generations of the dependencies' tags, read (and their schemes registered) before the loader
   * runs, and the fill lock when `lock` is given.
   */
  async capture(key: string, deps: CompiledDependencies, lock?: { token: string; ttl: number }): Promise<Capture> {
    const ns = this.ns();
    const local = this.localKey(key, ns);
    if (this.stale(ns)) throw new Error('keyv-clever: invalidations are waiting for Redis; values are computed but not cached until they have run');
    if (this.awaitReady) await this.ready;
    return this.backend.capture(ns, local, deps, lock);
  }

  /** Releases a fill lock taken by `capture` if `token` still holds it. */
  async release(key: string, token: string): Promise<void> {
    const ns = this.ns();
    await this.backend.unlock(ns, this.localKey(key, ns), token);
  }

  /** Prunes expired members from the indexes of every namespace this store has used. */
  async sweep(): Promise<number> {
    let pruned = 0;
    for (const ns of this.namespacesUsed) pruned += await this.backend.sweep(ns);
    return pruned;
  }

  /** Stops the background sweep and closes the connection the store opened. */
  async disconnect(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.detach?.();
    this.retries.close();
    await this.backend.close();
  }
}

/** What the stores sharing a Redis client run when it is ready again (after a reconnection). */
const onReady = new WeakMap<RedisClient, Set<() => void>>();

/**
 * Runs `callback` each time `client` is ready again, until the returned function is called. One
 * listener per client however many stores share it (a listener per store would trip Node's
 * 10-listener warning at the 11th namespace, and keep closed stores alive).
 */
function whenReady(client: RedisClient, callback: () => void): () => void {
  let callbacks = onReady.get(client);
  if (!callbacks) {
    const all = new Set<() => void>();
    client.on('ready', () => { for (const run of all) run(); });
    onReady.set(client, (callbacks = all));
  }
  callbacks.add(callback);
  return () => callbacks.delete(callback);
}

/** `what` names the ttl in the error; a function when naming it costs (every set passes one). */
function checkTtl(ttl: unknown, what: string | (() => string)): number | undefined {
  if (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0) {
    throw new TypeError(`CleverStore: ${typeof what === 'function' ? what() : what} must be a non-negative number of milliseconds, got ${describe(ttl)}`);
  }
  if (ttl === 0 || ttl === Infinity) return undefined;
  return Math.ceil(ttl);
}

function positiveInteger(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) throw new TypeError(`CleverStore: ${name} must be a positive integer, got ${describe(value)}`);
  return value as number;
}

function nonNegativeInteger(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 0) throw new TypeError(`CleverStore: ${name} must be a non-negative integer, got ${describe(value)}`);
  return value as number;
}

function checkKeys(keys: unknown): string[] {
  if (!Array.isArray(keys)) throw new TypeError(`CleverStore: expected an array of keys, got ${describe(keys)}`);
  return keys;
}

/** An ioredis Redis or Cluster client, as far as the store uses one. */
function isClient(value: unknown): value is RedisClient {
  const client = value as Partial<Record<'defineCommand' | 'on' | 'pipeline', unknown>> | null;
  return typeof client === 'object' && client !== null
    && typeof client.defineCommand === 'function' && typeof client.on === 'function' && typeof client.pipeline === 'function';
}
