import type {} from 'keyv';
import type { CleverSetOptions } from './store/store.js';

// Lets `keyv.set(key, value, { ttl, dependsOn })` and setMany entries with `{ ttl, dependsOn }`
// type-check with stock Keyv, 5 or 6 (both declare `class Keyv<GenericValue>`): Keyv 5 hands the
// object to the store untouched; on Keyv 6, attachKeyv does.
declare module 'keyv' {
  interface Keyv<GenericValue> {
    set<Value = GenericValue>(key: string, value: Value, options?: number | CleverSetOptions): Promise<boolean>;
    setMany<Value = GenericValue>(entries: Array<{ key: string; value: Value; ttl?: number | CleverSetOptions }>): Promise<boolean[]>;
  }
}

export {};
