import type { CompiledDependencies, Invalidation } from '../dependencies.js';

/** One write, already validated and compiled by the store. */
export interface WriteEntry {
  /** the key inside the namespace (without Keyv's `namespace:` prefix) */
  key: string;
  value: string;
  /** milliseconds; undefined = no expiry */
  ttl: number | undefined;
  deps: CompiledDependencies;
  /** tag generations captured before the value was computed; the write is refused if any moved */
  guards?: Array<[tag: string, generation: number]>;
  /** fill-lock token to release with the write */
  unlock?: string;
}

/** What the read-through sees on a miss, before its loader runs. */
export type Capture =
  | { kind: 'value'; value: string }
  | { kind: 'miss'; locked: boolean; generations: number[] };

/**
 * Storage engine behind CleverStore. Every method works inside one namespace; keys arrive without
 * Keyv's prefix. Both engines give the same observable behaviour (one behaviour suite tests both).
 */
export interface Backend {
  readonly kind: 'redis' | 'memory';
  get(ns: string, key: string): Promise<string | undefined>;
  /** rejects with PartialReadError when only some of the keys could be read */
  getMany(ns: string, keys: string[]): Promise<Array<string | undefined>>;
  hasMany(ns: string, keys: string[]): Promise<boolean[]>;
  /** resolves to one flag per entry: written, or refused by a guard */
  set(ns: string, entries: WriteEntry[]): Promise<boolean[]>;
  /** resolves to the number of entries that existed */
  delete(ns: string, keys: string[]): Promise<number>;
  clear(ns: string): Promise<void>;
  iterate(ns: string): AsyncGenerator<[string, string]>;
  /** resolves to the number of entries removed */
  invalidate(ns: string, request: Invalidation): Promise<{ removed: number; tags: string[] }>;
  /**
   * On a miss: the value if it appeared meanwhile; otherwise takes the fill lock (if `lock`),
   * registers the schemes and reads the generations of `deps.tags` as seen by `key`'s bucket.
   * `skipValue`: treat the key as missing (its value is past its freshness, kept for grace).
   */
  capture(ns: string, key: string, deps: CompiledDependencies, lock?: { token: string; ttl: number }, skipValue?: boolean): Promise<Capture>;
  /** releases the fill lock of `key` if `token` still holds it */
  unlock(ns: string, key: string, token: string): Promise<void>;
  /** the keys an index tag currently lists (debugging and tests) */
  entriesFor(ns: string, tags: string[]): Promise<string[]>;
  /** the schemes (field sets) cached entries use on a table (escaped name); debugging */
  schemesOf(ns: string, table: string): Promise<string[]>;
  /** prunes expired index members; resolves to the number pruned */
  sweep(ns: string): Promise<number>;
  close(): Promise<void>;
}
