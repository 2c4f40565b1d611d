import type { Cluster, Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';

export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/**
 * Redis layout (one namespace `ns`, bucket `b`, every key carrying the hash tag `{ns:b}`):
 *   {ns:b}v:<key>   the value (string, PX ttl), behind a header listing its tags if it has any
 *   {ns:b}p:<n>     hash, one of 1024 pages: small tags -> their members (key, indexed-until ms)
 *   {ns:b}i:<tag>   sorted set: keys depending on a tag too big for a page, scored by indexed-until
 *   {ns:b}s:<table> set of schemes (field sets) used on that table
 *   {ns:b}g:<tag>   generation counter, kept `raceWindow` ms after the last invalidation
 *   {ns:b}l:<key>   fill lock of a key (getOrSet)
 *   {ns:b}m:        the namespace's bucket count: recorded in bucket 0 by the first writer (see
 *                   register.lua), copied to every bucket, checked by every set script call
 * A key's value and its index entries share a bucket, so every per-key operation is one
 * single-slot script; invalidation runs once per bucket.
 */
export const KINDS = new Set(['v:', 'i:', 'p:', 's:', 'g:', 'l:', 'm:']);

/**
 * Namespaces become part of a hash tag, `{ns:b}`, so they must not contain `{`, `}` or `:`;
 * escaping them keeps every namespace's keys apart from every other's.
 */
export function escapeNamespace(ns: string): string {
  return ns.replace(/[%{}:]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The hash tag `{ns:b}` every key of bucket `b` of a namespace starts with. */
export const bucketPrefix = (ns: string, b: number): string => `{${escapeNamespace(ns)}:${b}}`;

export const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, (ch) => `\\${ch}`);

/** FNV-1a over UTF-16 code units: stable across processes and platforms. */
export function bucketOf(key: string, buckets: number): number {
  if (buckets === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/** Splits `{ns:b}<kind>:<rest>` into its bucket prefix, kind and rest. */
export function parseKey(key: string): { p: string; kind: string; rest: string } {
  const close = key.indexOf('}');
  return { p: key.slice(0, close + 1), kind: key.slice(close + 1, close + 3), rest: key.slice(close + 3) };
}

/**
 * The Redis Cluster slot of a key: CRC16 of its hash tag (between the first `{` and the next `}`,
 * if not empty), or else of the whole key.
 */
export function hashSlot(key: string): number {
  return calculateSlot(key);
}

/**
 * The first word of a Redis error reply: its code (MOVED, ASK, TRYAGAIN, CROSSSLOT, ERR, ...).
 * ioredis keeps the reply's text whole as the ReplyError's message, so the code is only found there.
 */
export function replyCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return undefined;
  const end = error.message.indexOf(' ');
  return end === -1 ? error.message : error.message.slice(0, end);
}

const REDIRECTIONS = new Set(['MOVED', 'ASK', 'TRYAGAIN', 'CROSSSLOT']);

/**
 * A cluster error that means a bucket is not (or no longer) served where the command went: a
 * multi-bucket command is then resent bucket by bucket. A script that reaches a key of a slot
 * the node does not serve fails with Redis's generic code, ERR, and its fixed text
 * "Script attempted to access ..." (a non local key, or keys that do not hash to the same slot).
 */
export function movedSlot(error: unknown): boolean {
  const code = replyCode(error);
  if (code === undefined) return false;
  return REDIRECTIONS.has(code) || (code === 'ERR' && (error as Error).message.startsWith('ERR Script attempted to access '));
}

/**
 * Where a namespace's keys live: their bucket's prefix, and on a cluster the slot and node that
 * serve that bucket. The bucket count comes from `countOf` (see BucketCounts).
 */
export class Layout {
  /** ioredis adds keyPrefix to the keys it sends, but not to SCAN patterns or replies. */
  readonly keyPrefix: string;
  private readonly prefixes = new Map<string, string[]>();
  private readonly slots = new Map<string, number>();

  constructor(readonly client: RedisClient, private readonly countOf: (ns: string) => number) {
    this.keyPrefix = client.options.keyPrefix ?? '';
  }

  /** `{ns:b}` for every bucket of a namespace. */
  bucketPrefixes(ns: string): string[] {
    let list = this.prefixes.get(ns);
    if (!list) {
      list = Array.from({ length: this.countOf(ns) }, (_, b) => bucketPrefix(ns, b));
      this.prefixes.set(ns, list);
    }
    return list;
  }

  /** The prefix of the bucket a key of a namespace is placed in. */
  prefix(ns: string, key: string): string {
    return this.bucketPrefixes(ns)[bucketOf(key, this.countOf(ns))]!;
  }

  /** Drops what was derived from a namespace's bucket count (it changed). */
  forget(ns: string): void {
    this.prefixes.delete(ns);
  }

  /** Cluster hash slot of a bucket prefix (with the client's keyPrefix, as ioredis sends it). */
  slotOf(p: string): number {
    let slot = this.slots.get(p);
    if (slot === undefined) this.slots.set(p, (slot = hashSlot(`${this.keyPrefix}${p}`)));
    return slot;
  }

  /** The Redis process serving a bucket, as far as the client knows (a single Redis: ''). */
  nodeOf(p: string): string | undefined {
    return isCluster(this.client) ? this.client.slots[this.slotOf(p)]?.[0] : '';
  }

  /** Every master (a single Redis: the client itself). */
  masters(): Redis[] {
    return isCluster(this.client) ? this.client.nodes('master') : [this.client];
  }

  /** Groups items by the bucket of their key, keeping each item's original position. */
  byBucket<T>(ns: string, items: T[], keyOf: (item: T) => string): Map<string, Array<[number, T]>> {
    const groups = new Map<string, Array<[number, T]>>();
    items.forEach((item, i) => {
      const p = this.prefix(ns, keyOf(item));
      let group = groups.get(p);
      if (!group) groups.set(p, (group = []));
      group.push([i, item]);
    });
    return groups;
  }
}
