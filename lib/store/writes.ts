/**
 * One write as the store receives it from Keyv — key, serialized value, and a ttl or
 * `{ ttl, dependsOn }` — checked and compiled into the backend's WriteEntry before anything is
 * sent. Bad input throws here, naming the key and the value.
 */
import type { WriteEntry } from '../backends/backend.js';
import { currentDependencies } from '../context.js';
import { compileDependencies, type Dependency } from '../dependencies.js';
import { describe, InvalidOptionError } from '../errors.js';
import { encodePayload } from './grace.js';
import { checkTtl } from './options.js';

/** Options of `keyv.set(key, value, options)` and of `setMany` entries' `ttl` field. */
export interface CleverSetOptions {
  /** milliseconds; 0 or Infinity = no expiry; defaults to the store's `defaultTtl` */
  ttl?: number;
  /** what the value was computed from; invalidating any of them removes the entry */
  dependsOn?: Dependency[];
}

const SET_OPTIONS = new Set(['ttl', 'dependsOn']);

/**
 * Carried in set options by the read-through, through Keyv untouched: generation guards (the
 * write is refused if a tag moved since they were read) and the fill lock to release.
 * @internal
 */
export const READ_THROUGH = Symbol.for('keyv-clever.readThrough');

/** @internal */
export interface ReadThroughWrite {
  guards: Array<[string, number]>;
  unlock?: string;
  /** ms the entry is kept past its ttl, to be served when its source fails (see grace.ts) */
  grace?: number;
}

/**
 * Removes Keyv 5's `namespace:` prefix (when `prefixed`): keys are stored under the namespace
 * exactly once. Keyv 6 hands the keys as set.
 */
export function localKey(key: unknown, ns: string, prefixed = true): string {
  if (typeof key !== 'string') throw new InvalidOptionError('key', key, `CleverStore: a key must be a string, got ${describe(key)}`);
  return prefixed && ns !== '' && key.startsWith(`${ns}:`) ? key.slice(ns.length + 1) : key;
}

/** Checks an array of keys (getMany, hasMany, deleteMany) and removes Keyv 5's prefix. */
export function localKeys(keys: unknown, ns: string, prefixed = true): string[] {
  if (!Array.isArray(keys)) throw new InvalidOptionError('keys', keys, `CleverStore: expected an array of keys, got ${describe(keys)}`);
  return keys.map((k) => localKey(k, ns, prefixed));
}

/** The store's settings a write is checked against. */
export interface WriteLimits {
  defaultTtl: number | undefined;
  maxDependencies: number;
}

/** Validates one write (its key inside the namespace) and compiles its dependencies; throws a TypeError before anything is written. */
export function prepareWrite(key: string, value: unknown, ttlOrOptions: unknown, { defaultTtl, maxDependencies }: WriteLimits): WriteEntry {
  if (typeof value !== 'string') {
    throw new InvalidOptionError('value', value, `CleverStore: value for key ${describe(key)} must be a string (Keyv serializes values before they reach the store), got ${describe(value)}`);
  }
  let ttl: number | undefined;
  let dependsOn: unknown[] = [];
  if (ttlOrOptions === undefined || ttlOrOptions === null) {
    ttl = defaultTtl;
  } else if (typeof ttlOrOptions === 'object' && !Array.isArray(ttlOrOptions)) {
    const options = ttlOrOptions as Record<string, unknown>;
    for (const name of Object.keys(options)) {
      if (!SET_OPTIONS.has(name)) throw new InvalidOptionError(name, options[name], `CleverStore: unknown set option '${name}' for key ${describe(key)}; expected ttl or dependsOn`);
    }
    ttl = options.ttl === undefined ? defaultTtl : checkTtl(options.ttl, () => `ttl for key ${describe(key)}`);
    if (options.dependsOn !== undefined) {
      if (!Array.isArray(options.dependsOn)) {
        throw new InvalidOptionError('dependsOn', options.dependsOn, `CleverStore: dependsOn for key ${describe(key)} must be an array, got ${describe(options.dependsOn)}`);
      }
      dependsOn = options.dependsOn;
    }
  } else {
    ttl = checkTtl(ttlOrOptions, () => `ttl for key ${describe(key)}`);
  }
  const scoped = currentDependencies();
  const count = dependsOn.length + (scoped?.length ?? 0);
  if (count > maxDependencies) {
    throw new InvalidOptionError('dependsOn', dependsOn, `CleverStore: key ${describe(key)} has ${count} dependencies, more than maxDependencies (${maxDependencies}); depend on a coarser one (the model, a tag) or raise maxDependencies`);
  }
  const deps = compileDependencies(scoped ? [...scoped, ...dependsOn] : dependsOn, scoped ? 'withDependencies() + dependsOn' : 'dependsOn');
  const readThrough = (ttlOrOptions as { [READ_THROUGH]?: ReadThroughWrite } | undefined)?.[READ_THROUGH];
  if (readThrough?.grace && ttl !== undefined) {
    return { key, value: encodePayload(value, Date.now() + ttl), ttl: ttl + readThrough.grace, deps, guards: readThrough.guards, unlock: readThrough.unlock };
  }
  return { key, value: encodePayload(value), ttl, deps, guards: readThrough?.guards, unlock: readThrough?.unlock };
}
