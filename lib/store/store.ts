import { EventEmitter } from 'node:events';
import type { Backend, WriteEntry } from '../backends/backend.js';
import type { RedisBackend, RedisClient } from '../backends/redis/index.js';
import type { TieredBackend } from '../backends/redis/l1/tiered.js';
import { compileInvalidation, type Dependency, type Invalidation } from '../dependencies.js';
import { asError, describe, InvalidOptionError, PartialReadError, StaleCaptureError } from '../errors.js';
import { logger } from '../log.js';
import { RetryQueue } from '../retry-queue.js';
import { escape } from '../tags.js';
import { KeyvCaller } from './caller.js';
import { EXPIRED, storageCapability, type StorageCapability } from './convention.js';
import { tagsListing } from './entries-for.js';
import { newStats, type CleverStoreEvents, type CleverStoreStats, type GraceEvent } from './events.js';
import { isStale, servePayload } from './grace.js';
import { INTERNAL, type StoreInternals } from './internal.js';
import { openBackend } from './open-backend.js';
import { resolveOptions, type CleverStoreOptions } from './options.js';
import type { CleverSetOptions } from './writes.js';

const log = logger('store');

/**
 * A Keyv storage adapter whose entries carry dependencies, kept as reverse indexes.
 *
 * ```ts
 * const keyv = new Keyv({ store: new CleverStore(process.env.REDIS_URL) });
 * await keyv.set('home', html, { ttl: 60_000, dependsOn: ['homepage', matching('posts', { status: 'published' })] });
 * await keyv.store.invalidate('homepage'); // -> 1
 * ```
 * `new CleverStore()` uses the embedded in-memory backend (one process, no server).
 *
 * It serves Keyv 5 and Keyv 6 alike (see convention.ts): to Keyv 6 it declares itself a native
 * adapter (`capabilities.expires`), takes absolute expiries and keeps its namespace itself, so
 * the keys in Redis are the same under both majors. On Keyv 6, `attachKeyv` (or `createKeyv`)
 * wires the set options through.
 *
 * (It declares no `implements`: the two majors' adapter types differ. Its overloads fit both;
 * Keyv 5's adapter type declares `setMany` as resolving to nothing, and Keyv reads the flags
 * this store resolves to, one per entry.)
 */
export class CleverStore extends EventEmitter<CleverStoreEvents> {
  /** Keyv reads `opts.dialect` to wire its iterator; both backends have Redis semantics. */
  readonly opts: { dialect: 'redis'; url: string; [option: string]: unknown };
  namespace: string | undefined;
  throwOnErrors: boolean;
  readonly defaultTtl: number | undefined;
  /** activity counters (see CleverStoreStats) */
  readonly stats: CleverStoreStats = newStats();
  readonly #backend: Backend;
  readonly #redis: RedisBackend | undefined;
  readonly #tiered: TieredBackend | undefined;
  readonly #ready: Promise<void>;
  readonly #awaitReady: boolean;
  readonly #namespacesUsed = new Set<string>();
  readonly #retries: RetryQueue;
  #sweepTimer: NodeJS.Timeout | undefined;
  /** removes what the store attached to its Redis client (see disconnect) */
  #detach: (() => void) | undefined;
  /** the Keyv in front: its convention, its attachment, its writes in the store's terms */
  readonly #caller: KeyvCaller;

  constructor(urlOrOptions?: string | CleverStoreOptions, options: CleverStoreOptions = {}) {
    super();
    const opts = resolveOptions(urlOrOptions, options);
    this.defaultTtl = opts.defaultTtl;
    // Not caught like other errors: with no listener of its own, Keyv 6 rethrows it, so the
    // write rejects rather than drop its options silently.
    this.#caller = new KeyvCaller({ defaultTtl: opts.defaultTtl, maxDependencies: opts.maxDependencies }, (error) => {
      log('error: %s', error.message);
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
    this.namespace = opts.namespace;
    this.throwOnErrors = opts.throwOnErrors;
    const opened = openBackend(opts, {
      error: (error) => this.#emitError(error),
      reconnected: () => { void this.#retries.drain(); },
      l1Hit: () => { this.stats.l1Hits++; },
    });
    this.#backend = opened.backend;
    this.#redis = opened.redis;
    this.#tiered = opened.tiered;
    this.#ready = opened.ready;
    this.#awaitReady = opened.awaitReady;
    this.#detach = opened.detach;
    this.opts = { dialect: 'redis', url: opened.url, namespace: opts.namespace };
    this.#retries = new RetryQueue({
      size: opts.retryQueueSize,
      minDelay: 100,
      maxDelay: 5000,
      run: (ns, request) => this.#backend.invalidate(ns, request),
      clear: (ns) => this.#backend.clear(ns),
      report: (error) => this.#emitError(error),
      onPending: (pending) => this.emit('pending', { pending }),
      onDrained: () => this.emit('drained'),
    });
    if (opts.sweepInterval > 0) {
      this.#sweepTimer = setInterval(() => { this.sweep().catch(() => undefined); }, opts.sweepInterval);
      this.#sweepTimer.unref();
    }
    Object.defineProperty(this, INTERNAL, { value: this.#internals(), enumerable: false });
  }

  /** The ioredis client behind the store (undefined on the memory backend). */
  get client(): RedisClient | undefined {
    return this.#redis?.client;
  }

  /** The in-process tier's occupancy (undefined without `l1`): entries, and bytes as counted against `l1.maxBytes`. */
  get l1(): { entries: number; bytes: number } | undefined {
    const tier = this.#tiered?.tier;
    return tier ? { entries: tier.size, bytes: tier.bytes } : undefined;
  }

  /**
   * What the store declares to Keyv 6: a full adapter that takes an absolute `expires`, used
   * natively rather than through Keyv 6's bridge. Keyv 6 reads it when it adopts a store, so from
   * then on the store speaks Keyv 6's contract (absolute expiries, keys as set).
   */
  get capabilities(): StorageCapability {
    this.#caller.adopted();
    return storageCapability(this);
  }

  /** `'redis'` or `'memory'`. */
  get backendKind(): 'redis' | 'memory' {
    return this.#backend.kind;
  }

  /** The serialized value of a key (Keyv deserializes it), undefined for a miss. */
  get(key: string): Promise<string | undefined>;
  /** (Keyv 5's adapter signature) */
  get<Value>(key: string): Promise<Value | undefined>;
  async get(key: string): Promise<string | undefined> {
    const ns = this.#ns();
    const local = this.#caller.local(key, ns);
    if (this.#stale(ns)) return this.#count(undefined);
    return this.#run(async () => this.#count(servePayload(await this.#backend.get(ns, local))), undefined);
  }

  /** The serialized values of keys, in order (undefined for a miss). */
  getMany(keys: string[]): Promise<Array<string | undefined>>;
  /** (Keyv 5's adapter signature) */
  getMany<Value>(keys: string[]): Promise<Array<Value | undefined>>;
  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    const ns = this.#ns();
    const locals = this.#caller.locals(keys, ns);
    if (locals.length === 0) return [];
    if (this.#stale(ns)) return locals.map(() => this.#count(undefined));
    try {
      if (this.#awaitReady) await this.#ready;
      return (await this.#backend.getMany(ns, locals)).map((v) => this.#count(servePayload(v)));
    } catch (error) {
      // One cluster node not answering leaves what the others answered.
      return this.#fail(error, error instanceof PartialReadError ? error.values.map((v) => this.#count(servePayload(v))) : locals.map(() => undefined));
    }
  }

  async has(key: string): Promise<boolean> {
    const ns = this.#ns();
    const local = this.#caller.local(key, ns);
    if (this.#stale(ns)) return false;
    return this.#run(async () => (await this.#backend.hasMany(ns, [local]))[0]!, false);
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    const ns = this.#ns();
    const locals = this.#caller.locals(keys, ns);
    if (locals.length === 0) return [];
    if (this.#stale(ns)) return locals.map(() => false);
    return this.#run(() => this.#backend.hasMany(ns, locals), locals.map(() => false));
  }

  /**
   * Stores a serialized value. The third argument is a ttl in ms or `{ ttl, dependsOn }`;
   * dependencies attached with `withDependencies` are added. Resolves to true once written.
   */
  async set(key: string, value: string, ttl?: number | CleverSetOptions): Promise<boolean> {
    const ns = this.#ns();
    const entry = this.#caller.prepare(ns, key, value, ttl, false);
    if (entry === EXPIRED) return this.#run(async () => (await this.#backend.delete(ns, [this.#caller.local(key, ns)]), true), false);
    return this.#run(async () => (await this.#write(ns, [entry]))[0]!, false);
  }

  /**
   * Stores many values in one round trip per bucket; each entry's `ttl` may be `{ ttl, dependsOn }`
   * (Keyv 6 gives each an absolute `expires` instead).
   */
  async setMany(entries: Array<{ key: string; value: string; ttl?: number | CleverSetOptions; expires?: number }>): Promise<boolean[]> {
    if (!Array.isArray(entries)) throw new InvalidOptionError('entries', entries, `CleverStore: setMany expects an array of { key, value, ttl }, got ${describe(entries)}`);
    const ns = this.#ns();
    const prepared = entries.map((e, i) => {
      if (e === null || typeof e !== 'object') throw new InvalidOptionError(`entries[${i}]`, e, `CleverStore: setMany entry ${i} is ${describe(e)}, expected { key, value, ttl }`);
      const expires = this.#caller.takesExpires && 'expires' in e;
      return this.#caller.prepare(ns, e.key, e.value, expires ? e.expires : e.ttl, expires);
    });
    if (prepared.length === 0) return [];
    const live = prepared.filter((e): e is WriteEntry => e !== EXPIRED);
    const expired = entries.filter((_, i) => prepared[i] === EXPIRED).map((e) => this.#caller.local(e.key, ns));
    return this.#run(async () => {
      if (expired.length > 0) await this.#backend.delete(ns, expired);
      const written = live.length > 0 ? await this.#write(ns, live) : [];
      let next = 0;
      return prepared.map((e) => (e === EXPIRED ? true : written[next++]!));
    }, prepared.map(() => false));
  }

  /** Resolves to true when the key existed. */
  async delete(key: string): Promise<boolean> {
    const ns = this.#ns();
    const local = this.#caller.local(key, ns);
    return this.#run(async () => (await this.#backend.delete(ns, [local])) > 0, false);
  }

  /**
   * Resolves to true when at least one of the keys existed; to Keyv 6 (whose contract asks for
   * it), one flag per key.
   */
  deleteMany(keys: string[]): Promise<boolean>;
  /** (Keyv 6's adapter signature) */
  deleteMany(keys: string[]): Promise<boolean[]>;
  async deleteMany(keys: string[]): Promise<boolean | boolean[]> {
    const ns = this.#ns();
    const locals = this.#caller.locals(keys, ns);
    if (this.#caller.convention !== 'keyv5') {
      return this.#run(() => Promise.all(locals.map(async (k) => (await this.#backend.delete(ns, [k])) > 0)), locals.map(() => false));
    }
    if (locals.length === 0) return false;
    return this.#run(async () => (await this.#backend.delete(ns, locals)) > 0, false);
  }

  /** Removes this namespace's values and index structures, and nothing else. */
  async clear(): Promise<void> {
    const ns = this.#ns();
    await this.#run(() => this.#backend.clear(ns), undefined);
  }

  /**
   * Yields `[key, serializedValue]` for the namespace: keys prefixed with `namespace:` for Keyv 5,
   * which removes the prefix; as set for Keyv 6.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, string], void> {
    const ns = namespace ?? this.#ns();
    if (this.#stale(ns)) return;
    const prefix = ns === '' || !this.#caller.prefixed ? '' : `${ns}:`;
    try {
      if (this.#awaitReady) await this.#ready;
      for await (const [key, payload] of this.#backend.iterate(ns)) {
        const value = servePayload(payload);
        if (value !== undefined) yield [`${prefix}${key}`, value];
      }
    } catch (error) {
      this.#fail(error, undefined);
    }
  }

  /**
   * Removes every entry that depends on any of `deps` and resolves to the number removed.
   * A string is a tag; `matching(table, where)` that conjunction (and the whole-table entries);
   * `matching(table)` or a model everything on that table; an instance its row's conjunctions.
   * An array among the arguments counts as its elements, so any number of dependencies can be
   * given without spreading them (`store.invalidate(tags)`).
   * Rejects if the backend fails: a lost invalidation must not pass unnoticed (it is queued and
   * retried meanwhile, and reads of the namespace miss until it has run).
   */
  async invalidate(...deps: Array<Dependency | readonly Dependency[]>): Promise<number> {
    const flat: Dependency[] = [];
    for (const dep of deps) {
      if (Array.isArray(dep)) for (const inner of dep as readonly Dependency[]) flat.push(inner);
      else flat.push(dep as Dependency);
    }
    return this.#invalidateRequest(compileInvalidation(flat), flat);
  }

  /** Invalidations that failed and wait for Redis to answer again. */
  get pendingInvalidations(): number {
    return this.#retries.size;
  }

  /** Retries the failed invalidations now; resolves once the attempt is over (see pendingInvalidations). */
  async flushInvalidations(): Promise<void> {
    await this.#retries.drain();
  }

  /**
   * The keys (inside the namespace) currently listed under a dependency, for debugging. For a row
   * (a model instance), also every key a change of that row would invalidate through the
   * schemes cached entries use on its table: a list by one of its field values, the whole table.
   */
  async entriesFor(dep: Dependency): Promise<string[]> {
    const ns = this.#ns();
    return this.#backend.entriesFor(ns, await tagsListing(dep, (table) => this.#backend.schemesOf(ns, table)));
  }

  /** Prunes expired members from the indexes of every namespace this store has used. */
  async sweep(): Promise<number> {
    let pruned = 0;
    for (const ns of this.#namespacesUsed) pruned += await this.#backend.sweep(ns);
    return pruned;
  }

  /** Stops the background sweep and closes the connection the store opened. */
  async disconnect(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#detach?.();
    this.#retries.close();
    await this.#backend.close();
  }

  /** What the read-through and the Sequelize integration reach (see internal.ts). */
  #internals(): StoreInternals {
    return {
      namespace: () => this.#ns(),
      throwsOnErrors: () => this.throwOnErrors,
      emitError: (error) => this.#emitError(asError(error)),
      capture: async (key, deps, lock) => {
        const ns = this.#ns();
        const local = this.#caller.local(key, ns);
        if (this.#stale(ns)) throw new StaleCaptureError(ns, this.#retries.size);
        if (this.#awaitReady) await this.#ready;
        const captured = await this.#backend.capture(ns, local, deps, lock);
        if (captured.kind !== 'value') return captured;
        // An entry kept past its freshness for grace is a miss to the read-through.
        if (isStale(captured.value)) return this.#backend.capture(ns, local, deps, lock, true);
        return { kind: 'value', value: servePayload(captured.value)! };
      },
      release: async (key, token) => {
        const ns = this.#ns();
        await this.#backend.unlock(ns, this.#caller.local(key, ns), token);
      },
      countLockWait: () => { this.stats.lockWaits++; },
      servedGrace: (event: GraceEvent) => {
        this.stats.graceServed++;
        log('served %j past its ttl (grace): %s', event.key, event.reason);
        if (this.listenerCount('grace') > 0) this.emit('grace', event);
      },
      invalidateRequest: (request) => this.#invalidateRequest(request, []),
      attach: (convention) => this.#caller.attach(convention),
      park: (key, options) => this.#caller.park(key, options),
      invalidateOrQueue: (request) => this.#invalidateRequest(request, []).catch(() => 0),
      schemesOf: async (table) => {
        const ns = this.#ns();
        if (this.#awaitReady) await this.#ready;
        return this.#backend.schemesOf(ns, escape(table));
      },
    };
  }

  async #invalidateRequest(request: Invalidation, dependencies: readonly Dependency[]): Promise<number> {
    const ns = this.#ns();
    if (request.tags.length === 0 && request.rows.length === 0) return 0;
    try {
      if (this.#awaitReady) await this.#ready;
      const started = log.enabled ? performance.now() : 0;
      const { removed, tags } = await this.#backend.invalidate(ns, request);
      if (log.enabled) {
        log('invalidated %j in %j: %d removed in %s ms', [...tags, ...request.rows.map((r) => `row of ${r.table}`)], ns, removed, (performance.now() - started).toFixed(2));
      }
      this.stats.invalidations++;
      this.stats.invalidated += removed;
      if (this.listenerCount('invalidate') > 0) {
        const tables = [...new Set(request.rows.map((r) => r.table))];
        this.emit('invalidate', { dependencies: dependencies.slice(), tables, removed });
      }
      return removed;
    } catch (error) {
      const err = asError(error);
      log('invalidation in %j failed (%s): queued for retry', ns, err.message);
      this.#retries.add(ns, request);
      this.#emitError(err);
      throw err;
    }
  }

  /**
   * Emits `'error'`; like Keyv 5, an 'error' with no listener is not thrown at the caller. Keyv 6
   * rethrows an 'error' its own listeners do not take: it must not reach the caller through the
   * store (a database write, a read that is a miss).
   */
  #emitError(error: Error): void {
    log('error: %s', error.message);
    if (this.listenerCount('error') === 0) return;
    try {
      this.emit('error', error);
    } catch (thrown) {
      log('the error was not taken by a listener: %s', asError(thrown).message);
    }
  }

  /** Reports a backend failure: rethrown with throwOnErrors, otherwise emitted and degraded. */
  #fail<T>(error: unknown, fallback: T): T {
    const err = asError(error);
    this.#emitError(err);
    if (this.throwOnErrors) throw err;
    return fallback;
  }

  async #run<T>(op: () => Promise<T>, fallback: T): Promise<T> {
    try {
      if (this.#awaitReady) await this.#ready;
      return await op();
    } catch (error) {
      return this.#fail(error, fallback);
    }
  }

  #ns(): string {
    const ns = this.namespace ?? '';
    this.#namespacesUsed.add(ns);
    return ns;
  }

  /** Writes entries, counting what was written and what the guards refused. */
  async #write(ns: string, entries: WriteEntry[]): Promise<boolean[]> {
    const written = await this.#backend.set(ns, entries);
    written.forEach((ok, i) => {
      if (ok) this.stats.sets++;
      else if (entries[i]!.guards) {
        this.stats.refusedStale++;
        log('refused a stale write-back of %j in %j: a dependency was invalidated while it was computed', entries[i]!.key, ns);
      }
    });
    return written;
  }

  #count<T>(value: T): T {
    if (value === undefined) this.stats.misses++;
    else this.stats.hits++;
    return value;
  }

  /**
   * While invalidations of the namespace wait for Redis, any cached value may be stale: reads
   * are misses until the retry queue has drained.
   */
  #stale(ns: string): boolean {
    return this.#retries.size > 0 && this.#retries.affects(ns);
  }
}

export type { CleverSetOptions } from './writes.js';
export type { CleverStoreOptions, L1Options } from './options.js';
export { DEFAULTS, SAFE_EVICTION_POLICIES } from './options.js';
export type { CleverStoreEvents, CleverStoreStats, GraceEvent, InvalidateEvent } from './events.js';
