import type {} from 'keyv';
import type { CleverSetOptions } from './store/store.js';

// Lets `keyv.set(key, value, { ttl, dependsOn })` and setMany entries with `{ ttl, dependsOn }`
// type-check with stock Keyv: Keyv hands the object to the store untouched.
declare module 'keyv' {
  interface Keyv<GenericValue> {
    set<Value = GenericValue>(key: string, value: Value, options?: number | CleverSetOptions): Promise<boolean>;
    setMany<Value = GenericValue>(entries: Array<{ key: string; value: Value; ttl?: number | CleverSetOptions }>): Promise<boolean[]>;
  }
}

export {};
