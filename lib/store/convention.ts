/**
 * How the store's caller passes expiry and keys, which differs between the Keyv majors:
 *
 * | caller | third argument of `set` | keys |
 * |---|---|---|
 * | Keyv 5 (`'keyv5'`) | a relative ttl in ms, or `{ ttl, dependsOn }` | prefixed with `namespace:` |
 * | Keyv 6, native (`'keyv6'`) | an absolute `expires` (ms since epoch) | as set: the namespace is the store's |
 * | Keyv 6 through its `KeyvBridgeAdapter` (`'keyv6-bridge'`) | a relative ttl | as set |
 *
 * A store starts in the Keyv 5 convention. Keyv 6 reads an adapter's `capabilities` to decide
 * whether to use it natively, so that read is what switches the store to the Keyv 6 convention;
 * `attachKeyv` sets the bridged one when it finds the store behind Keyv 6's bridge.
 */
import { checkTtl } from './options.js';

export type Convention = 'keyv5' | 'keyv6' | 'keyv6-bridge';

/** Whether keys arrive prefixed with `namespace:` (Keyv 5 prefixes them; Keyv 6 leaves the namespace to the store). */
export const prefixesKeys = (convention: Convention): boolean => convention === 'keyv5';

/** Whether a number given to `set` is an absolute expiry rather than a ttl. */
export const takesExpires = (convention: Convention): boolean => convention === 'keyv6';

/** An absolute expiry that has already passed: the write must leave no live entry. */
export const EXPIRED = Symbol('expired');

/**
 * An absolute expiry as the ttl the store applies: undefined for none (undefined, Infinity),
 * EXPIRED when it has passed. Anything else than a number is left to the write's own checks.
 */
export function ttlFromExpires(expires: unknown, what: () => string): unknown {
  if (typeof expires !== 'number') return expires;
  if (expires === Infinity) return undefined;
  checkTtl(expires, what); // NaN and negative numbers are refused like a bad ttl
  const remaining = expires - Date.now();
  return remaining > 0 ? remaining : EXPIRED;
}

/** The methods every full storage adapter has, as Keyv 6 describes them. */
const METHODS = ['get', 'getMany', 'has', 'hasMany', 'set', 'setMany', 'delete', 'deleteMany', 'clear', 'disconnect', 'iterator'] as const;

/** Keyv 6's description of a storage adapter (its `KeyvStorageCapability`), built without importing Keyv 6. */
export interface StorageCapability {
  compatible: boolean;
  store: 'keyvStorage';
  methods: Record<(typeof METHODS)[number], { exists: boolean; methodType: 'async' | 'sync' | 'none' }>;
  /** the adapter takes an absolute `expires` on `set`/`setMany` and enforces it */
  expires: true;
}

/** What the store declares to Keyv 6: a full, native adapter. */
export function storageCapability(adapter: object): StorageCapability {
  const methods = {} as StorageCapability['methods'];
  for (const name of METHODS) {
    const method = (adapter as Record<string, unknown>)[name];
    methods[name] = typeof method === 'function'
      ? { exists: true, methodType: method.constructor.name === 'Function' ? 'sync' : 'async' }
      : { exists: false, methodType: 'none' };
  }
  return { compatible: true, store: 'keyvStorage', methods, expires: true };
}
