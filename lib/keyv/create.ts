/**
 * `createKeyv(storeArg?, keyvOptions?)`: a Keyv (whichever major is installed) on a new
 * CleverStore, attached so that set options work — the convention of `@keyv/redis`'s createKeyv.
 */
import { Keyv, type KeyvOptions } from 'keyv';
import { CleverStore } from '../store/store.js';
import type { CleverStoreOptions } from '../store/options.js';
import { attachKeyv } from './attach.js';

/**
 * The namespace createKeyv gives Keyv when neither Keyv's options nor the store name one: Keyv 5's
 * default. Keyv 6 has none, and entries written under Keyv 5 would be out of its sight.
 */
export const DEFAULT_NAMESPACE = 'keyv';

/**
 * A Keyv on `new CleverStore(storeArg)` (a `redis://` URL, an options object, or nothing for the
 * embedded in-memory backend), attached (see attachKeyv). The namespace is `keyvOptions.namespace`,
 * else the store's `namespace` option, else `'keyv'`, Keyv 5's default, under both majors, so
 * entries stay shared when an application moves from Keyv 5 to 6.
 *
 * ```ts
 * const keyv = createKeyv(process.env.REDIS_URL, { namespace: 'app' });
 * await keyv.set('home', html, { ttl: 60_000, dependsOn: ['homepage'] });
 * await keyv.store.invalidate('homepage');
 * ```
 */
export function createKeyv(storeArg?: string | CleverStoreOptions, keyvOptions: Omit<KeyvOptions, 'store'> = {}): CleverKeyv {
  const store = new CleverStore(storeArg);
  const namespace = keyvOptions.namespace ?? store.namespace ?? DEFAULT_NAMESPACE;
  return attachKeyv(new Keyv({ ...keyvOptions, namespace, store })) as CleverKeyv;
}

/** A Keyv whose store is known to be a CleverStore (`keyv.store.invalidate(…)` type-checks). */
export type CleverKeyv<Value = unknown> = Keyv<Value> & { store: CleverStore };
