import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { currentDependencies } from './context.js';
import { compileDependencies, type CompiledDependencies, type Dependency } from './dependencies.js';
import { logger } from './log.js';
import { describe, InvalidOptionError, StaleCaptureError } from './errors.js';
import { attachKeyv, storeBehind } from './keyv/attach.js';
import { readAllowingStale } from './store/grace.js';
import type { StoreInternals } from './store/internal.js';
import { READ_THROUGH, type ReadThroughWrite } from './store/writes.js';

const log = logger('read-through');

export interface LockOptions {
  /** how long the fill lock lives, ms: a crashed holder's lock expires after it (default 10000) */
  ttl?: number;
  /** how long other callers wait for the holder's value before loading anyway, ms (default 5000) */
  wait?: number;
}

export interface GetOrSetOptions<T = unknown> {
  /** ms; as for keyv.set */
  ttl?: number;
  /** what the loaded value is computed from */
  dependsOn?: Dependency[];
  /** the cross-process fill lock (Redis): `false` disables it (default on) */
  lock?: boolean | LockOptions;
  /**
   * The transaction the loader reads in. A value computed inside a transaction that has written to
   * one of its dependencies is returned but not stored. Found through CLS when not given.
   */
  transaction?: unknown;
  /**
   * The dependencies stored with the loaded value, computed from it (the rows a query found), in
   * place of `dependsOn`. `dependsOn` still guards the load against writes that commit meanwhile,
   * so it must cover them: every write that invalidates one of these must also invalidate
   * something in `dependsOn` (their models do).
   */
  dependsOnValue?: (value: T) => Dependency[];
  /**
   * ms the value is kept past its `ttl` (needs a ttl): within that window a call returns the
   * expired value when the loader throws or Redis does not answer, rather than failing (counted
   * in `stats.graceServed`, reported by the store's `'grace'` event). An invalidated value is
   * gone at once: grace only stretches expiry.
   */
  grace?: number;
  /**
   * With `grace`: return an expired value at once, and refresh it in the background (one caller
   * per key: in this process by coalescing, across processes by the fill lock).
   */
  staleWhileRevalidate?: boolean;
}

/**
 * Tells whether a transaction has uncommitted writes to any of the given dependencies.
 * Integrations (the Sequelize hooks) register one; with none, nothing counts as uncommitted.
 */
export interface TransactionWrites {
  /** the transaction of the current async context (CLS), if any */
  current(): unknown;
  /** true if `transaction` (or its root) has written to something `deps` depends on */
  hasWritten(transaction: unknown, deps: CompiledDependencies): boolean;
  /**
   * true if `transaction` may read from a snapshot taken before a commit the capture missed
   * (REPEATABLE READ, SERIALIZABLE): a value loaded there is returned, never stored
   */
  readsSnapshot?(transaction: unknown): boolean;
}

const trackers: TransactionWrites[] = [];

/** Registers a source of uncommitted-write knowledge (used by the Sequelize integration). */
export function registerTransactionWrites(tracker: TransactionWrites): () => void {
  trackers.push(tracker);
  return () => {
    const at = trackers.indexOf(tracker);
    if (at >= 0) trackers.splice(at, 1);
  };
}

/** The entry's dependencies with those `withDependencies` adds; TypeError on bad input. */
function compile(dependsOn: readonly Dependency[]): CompiledDependencies {
  const scoped = currentDependencies();
  return compileDependencies(scoped ? [...scoped, ...dependsOn] : dependsOn, 'getOrSet() dependsOn');
}

/** The transaction of the current async context (CLS), if a tracker knows one. */
function currentTransaction(): unknown {
  for (const tracker of trackers) {
    const transaction = tracker.current();
    if (transaction !== undefined) return transaction;
  }
  return undefined;
}

/** Has `transaction` uncommitted writes to anything `deps` depends on? */
const writtenIn = (transaction: unknown, deps: CompiledDependencies): boolean => trackers.some((t) => t.hasWritten(transaction, deps));

/** May `transaction` read from a snapshot older than the capture? */
const snapshotIn = (transaction: unknown): boolean => trackers.some((t) => t.readsSnapshot?.(transaction) === true);

const inflight = new WeakMap<StoreInternals, Map<string, Promise<unknown>>>();

const DEFAULT_LOCK: Required<LockOptions> = { ttl: 10_000, wait: 5_000 };

/**
 * Race-safe, stampede-protected read-through.
 *
 * On a hit, the cached value. On a miss, `loader` runs once (concurrent callers in this process
 * share it; other processes wait for the holder of a Redis lock, up to `lock.wait`, then load
 * anyway), and its result is stored with its dependencies — unless one of them was invalidated
 * while it was computed (the write is refused: it could be stale), or the value was computed in a
 * transaction that has written to one of them (it could be uncommitted). Inside a transaction
 * that has already written to one of its dependencies the cache is not even read: the loader
 * runs, so the transaction sees its own writes. The caller always gets the loaded value. Loader
 * errors propagate and nothing is stored.
 *
 * Round trips: a hit is one `get`; a miss is `get`, one capture script (generations + lock) and
 * one write script (guarded set + unlock).
 */
export async function getOrSet<T>(keyv: Keyv, key: string, loader: () => T | Promise<T>, options: GetOrSetOptions<T> = {}): Promise<T> {
  const store = storeBehind(keyv)?.internals;
  if (!store) {
    throw new InvalidOptionError('keyv', keyv, `getOrSet(): the Keyv instance must use a CleverStore, got ${describe((keyv as { store?: unknown } | undefined)?.store)}`);
  }
  attachKeyv(keyv); // its set options must reach the store on Keyv 6
  if (typeof key !== 'string') throw new InvalidOptionError('key', key, `getOrSet(): key must be a string, got ${describe(key)}`);
  if (typeof loader !== 'function') throw new InvalidOptionError('loader', loader, `getOrSet(): loader must be a function, got ${describe(loader)}`);
  const lock = lockOptions(options.lock);
  const dependsOn = options.dependsOn ?? [];
  if (!Array.isArray(dependsOn)) throw new InvalidOptionError('dependsOn', dependsOn, `getOrSet(): dependsOn must be an array, got ${describe(dependsOn)}`);
  const grace = graceOf(options);

  const transaction = options.transaction ?? currentTransaction();
  let deps: CompiledDependencies | undefined;
  if (transaction !== undefined) {
    // A transaction that wrote what the entry depends on must read its own writes: the cached
    // value predates them (their invalidation waits for the commit). Load, and store nothing.
    deps = compile(dependsOn);
    if (writtenIn(transaction, deps)) return loader();
  }

  if (grace === undefined) {
    const cached = await keyv.get(key);
    if (cached !== undefined) return cached as T;
    return fetch(keyv, store, key, loader, options, transaction, deps, lock);
  }
  const read = await readAllowingStale(() => keyv.get(key));
  if (read.value === undefined) return fetch(keyv, store, key, loader, options, transaction, deps, lock);
  if (!read.stale) return read.value as T;
  const stale = read.value as T;
  if (options.staleWhileRevalidate && transaction === undefined) {
    store.servedGrace({ key, reason: 'revalidating' });
    revalidate(keyv, store, key, loader, options, deps, lock);
    return stale;
  }
  try {
    return await fetch(keyv, store, key, loader, options, transaction, deps, lock);
  } catch (error) {
    store.servedGrace({ key, reason: loaderErrors.has(error as object) ? 'loader-error' : 'redis-error', error: error as Error });
    return stale;
  }
}

/** Errors thrown by loaders (as opposed to the cache's own), to tell why grace served a value. */
const loaderErrors = new WeakSet<object>();

/**
 * Refreshes an expired entry in the background: skipped when a load of the key is already
 * running here, or when another process holds its fill lock (that process refreshes it).
 */
function revalidate<T>(
  keyv: Keyv, store: StoreInternals, key: string, loader: () => T | Promise<T>, options: GetOrSetOptions<T>,
  deps: CompiledDependencies | undefined, lock: Required<LockOptions> | undefined,
): void {
  const slot = `${store.namespace()}\u0000${key}`;
  let calls = inflight.get(store);
  if (!calls) inflight.set(store, (calls = new Map()));
  if (calls.has(slot)) return;
  const compiled = deps ?? compile(options.dependsOn ?? []);
  const promise = load(keyv, store, key, loader, options, compiled, lock, undefined, true).finally(() => calls.delete(slot));
  calls.set(slot, promise);
  promise.catch((error: unknown) => {
    log('background refresh of %j failed: %s', key, (error as Error).message);
    if (!loaderErrors.has(error as object)) store.emitError(error);
  });
}

/** The miss path: the loader runs (once per key in this process) and its value is stored if still current. */
async function fetch<T>(
  keyv: Keyv, store: StoreInternals, key: string, loader: () => T | Promise<T>, options: GetOrSetOptions<T>,
  transaction: unknown, compiled: CompiledDependencies | undefined, lock: Required<LockOptions> | undefined,
): Promise<T> {
  const dependsOn = options.dependsOn ?? [];
  let deps = compiled;
  // Checked on every miss, before the loader runs or anything is written (a hit writes nothing).
  deps ??= compile(dependsOn);
  if (transaction !== undefined && snapshotIn(transaction)) {
    // Its snapshot may predate a commit whose invalidation ran before our capture: the
    // generations cannot tell, so the value is not stored.
    log('not caching %j: computed in a transaction that reads from a snapshot', key);
    return loader();
  }
  // Values seen inside a transaction may be uncommitted: never share them with other callers.
  if (transaction !== undefined) return (await load(keyv, store, key, loader, options, deps, lock, transaction)).value;

  const slot = `${store.namespace()}\u0000${key}`;
  let calls = inflight.get(store);
  if (!calls) inflight.set(store, (calls = new Map()));
  const running = calls.get(slot) as Promise<Loaded<T>> | undefined;
  if (running) {
    // A load that began before this call may have read the database before a write that
    // committed since: its value is only good for us if its guarded write was accepted.
    const shared = await running;
    if (shared.stored) return shared.value;
    return getOrSet(keyv, key, loader, options); // read again: the cache, or a load that starts now
  }
  const promise = load(keyv, store, key, loader, options, deps, lock, undefined).finally(() => calls.delete(slot));
  calls.set(slot, promise);
  return (await promise).value;
}

/**
 * A load's value, and whether this load stored it: then no dependency moved between its capture
 * and its write, so callers that joined it meanwhile may use it too.
 */
interface Loaded<T> {
  value: T;
  stored: boolean;
}

async function load<T>(
  keyv: Keyv, store: StoreInternals, key: string, loader: () => T | Promise<T>, options: GetOrSetOptions<T>,
  deps: CompiledDependencies, lock: Required<LockOptions> | undefined, transaction: unknown, background = false,
): Promise<Loaded<T>> {
  const token = lock ? randomUUID() : undefined;
  let captured;
  try {
    captured = await store.capture(key, deps, token && lock ? { token, ttl: lock.ttl } : undefined);
  } catch (error) {
    // Invalidations wait for Redis: the store said so once ('pending'); load without caching.
    if (error instanceof StaleCaptureError) {
      log('not caching %j: %s', key, error.message);
      return { value: await loader(), stored: false };
    }
    // Redis unreachable: serve from the loader without caching.
    store.emitError(error);
    if (store.throwsOnErrors()) throw error;
    return { value: await loader(), stored: false };
  }
  if (captured.kind === 'value') {
    const value = await keyv.get(key); // deserialized by Keyv, as any read
    if (value !== undefined) return { value: value as T, stored: false };
  }
  let generations = captured.kind === 'miss' ? captured.generations : undefined;
  let holdsLock = captured.kind === 'miss' && captured.locked && token !== undefined;

  if (background && captured.kind === 'miss' && !captured.locked) return { value: undefined as T, stored: false };
  if (captured.kind === 'miss' && !captured.locked && lock) {
    store.countLockWait();
    log('%j is being computed elsewhere: waiting up to %d ms', key, lock.wait);
    const value = await waitForValue(keyv, key, lock.wait);
    if (value !== undefined) return { value: value as T, stored: false };
  }
  if (generations === undefined) {
    // The value vanished between capture and read: capture again, without the lock.
    const again = await store.capture(key, deps);
    if (again.kind === 'value') {
      const value = await keyv.get(key);
      if (value !== undefined) return { value: value as T, stored: false };
    }
    generations = again.kind === 'miss' ? again.generations : deps.tags.map(() => Number.NaN);
    holdsLock = false;
  }

  let value: T;
  try {
    value = await loader();
  } catch (error) {
    if (typeof error === 'object' && error !== null) loaderErrors.add(error);
    if (holdsLock) await store.release(key, token!).catch(() => undefined);
    throw error;
  }
  const uncommitted = transaction !== undefined && writtenIn(transaction, deps);
  if (uncommitted) log('not caching %j: computed in a transaction that wrote to its dependencies', key);
  if (value === undefined || uncommitted) {
    if (holdsLock) await store.release(key, token!).catch(() => undefined);
    return { value, stored: false };
  }
  let dependsOn = options.dependsOn ?? [];
  try {
    if (options.dependsOnValue) dependsOn = options.dependsOnValue(value);
  } catch (error) {
    if (holdsLock) await store.release(key, token!).catch(() => undefined);
    throw error;
  }
  const guards: ReadThroughWrite = {
    guards: deps.tags.map((tag, i) => [tag, generations![i]!] as [string, number]),
    unlock: holdsLock ? token : undefined,
    grace: options.grace,
  };
  const stored = await keyv.set(key, value, { ttl: options.ttl, dependsOn, [READ_THROUGH]: guards } as never);
  return { value, stored };
}

async function waitForValue(keyv: Keyv, key: string, wait: number): Promise<unknown> {
  const deadline = Date.now() + wait;
  let pause = 10;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(1, deadline - Date.now()))));
    const value = await keyv.get(key);
    if (value !== undefined) return value;
    pause = Math.min(pause * 2, 100);
  }
  return undefined;
}

/** `grace` checked: undefined, or a positive integer of ms given with a ttl. */
function graceOf(options: GetOrSetOptions<never>): number | undefined {
  const { grace, staleWhileRevalidate } = options;
  if (staleWhileRevalidate !== undefined && typeof staleWhileRevalidate !== 'boolean') {
    throw new InvalidOptionError('staleWhileRevalidate', staleWhileRevalidate, `getOrSet(): staleWhileRevalidate must be a boolean, got ${describe(staleWhileRevalidate)}`);
  }
  if (grace === undefined || grace === 0) {
    if (staleWhileRevalidate) throw new InvalidOptionError('staleWhileRevalidate', staleWhileRevalidate, 'getOrSet(): staleWhileRevalidate needs a grace period (grace: ms)');
    return undefined;
  }
  if (!Number.isInteger(grace) || grace < 0) throw new InvalidOptionError('grace', grace, `getOrSet(): grace must be a non-negative integer of ms, got ${describe(grace)}`);
  if (options.ttl === undefined || options.ttl === 0 || options.ttl === Infinity) {
    throw new InvalidOptionError('grace', grace, `getOrSet(): grace (${grace} ms) keeps a value past its ttl, so it needs a ttl, got ${describe(options.ttl)}`);
  }
  return grace;
}

function lockOptions(lock: GetOrSetOptions['lock']): Required<LockOptions> | undefined {
  if (lock === false) return undefined;
  if (lock === undefined || lock === true) return DEFAULT_LOCK;
  if (typeof lock !== 'object' || lock === null) throw new InvalidOptionError('lock', lock, `getOrSet(): lock must be a boolean or { ttl, wait }, got ${describe(lock)}`);
  const merged = { ...DEFAULT_LOCK, ...lock };
  for (const name of ['ttl', 'wait'] as const) {
    if (!Number.isInteger(merged[name]) || merged[name] <= 0) throw new InvalidOptionError(`lock.${name}`, merged[name], `getOrSet(): lock.${name} must be a positive integer of ms, got ${describe(merged[name])}`);
  }
  return merged;
}
