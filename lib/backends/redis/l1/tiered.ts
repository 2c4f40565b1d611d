import type { CompiledDependencies, Invalidation } from '../../../dependencies.js';
import type { Backend, Capture, WriteEntry } from '../../backend.js';
import type { RedisBackend } from '../backend.js';
import { bucketPrefix } from '../layout.js';
import { Tier, type TierOptions, type Ticket } from './tier.js';
import { Tracker } from './tracker.js';

/** What the tier did, for the store's stats. */
export interface TierCounters {
  /** reads served from process memory */
  hit(): void;
}

/**
 * The Redis backend with an in-process tier in front of its reads.
 *
 * A read first looks in the tier (when tracking covers its namespace); a miss reads Redis (the
 * value, and its PTTL beside it) and fills the tier unless the key, or the whole tier, was
 * invalidated while the read was in flight. Writes, deletes and clears made here drop their keys
 * before and after they run; an invalidation made here resolves once the tracking messages it
 * caused have been applied (Redis decides which keys it removed). Everything else passes through.
 */
export class TieredBackend implements Backend {
  readonly kind = 'redis' as const;
  readonly tier: Tier;
  private readonly tracker: Tracker;

  constructor(private readonly inner: RedisBackend, options: TierOptions, private readonly counters: TierCounters, report: (error: Error) => void) {
    this.tier = new Tier(options);
    this.tracker = new Tracker(inner.client, this.tier, report);
  }

  /** The prefix every value key of a namespace starts with, `{ns:`, registered for BCAST tracking. */
  private stem(ns: string): string {
    return bucketPrefix(ns, 0).slice(0, -2);
  }

  async get(ns: string, key: string): Promise<string | undefined> {
    const vkey = this.inner.valueKey(ns, key);
    if (!this.tracker.covers(this.stem(ns))) return this.inner.get(ns, key);
    const held = this.tier.get(vkey);
    if (held !== undefined) {
      this.counters.hit();
      return held;
    }
    const ticket = this.tier.begin([vkey]);
    try {
      // Not atomic, and need not be: a write between the two is reported, and the fill refused.
      const [value, pttl] = await Promise.all([this.inner.get(ns, key), this.inner.client.pttl(vkey)]);
      if (value !== undefined) this.tier.fill(ticket, 0, value, pttl);
      return value;
    } finally {
      this.tier.end(ticket);
    }
  }

  async getMany(ns: string, keys: string[]): Promise<Array<string | undefined>> {
    if (!this.tracker.covers(this.stem(ns))) return this.inner.getMany(ns, keys);
    const out: Array<string | undefined> = new Array(keys.length);
    const missing: number[] = [];
    keys.forEach((key, i) => {
      const held = this.tier.get(this.inner.valueKey(ns, key));
      if (held === undefined) missing.push(i);
      else {
        this.counters.hit();
        out[i] = held;
      }
    });
    if (missing.length === 0) return out;
    const vkeys = missing.map((i) => this.inner.valueKey(ns, keys[i]!));
    const ticket: Ticket = this.tier.begin(vkeys);
    try {
      const [values, pttls] = await Promise.all([
        this.inner.getMany(ns, missing.map((i) => keys[i]!)),
        Promise.all(vkeys.map((k) => this.inner.client.pttl(k).catch(() => -2))),
      ]);
      values.forEach((value, j) => {
        out[missing[j]!] = value;
        if (value !== undefined) this.tier.fill(ticket, j, value, pttls[j]!);
      });
      return out;
    } finally {
      this.tier.end(ticket);
    }
  }

  hasMany(ns: string, keys: string[]): Promise<boolean[]> {
    return this.inner.hasMany(ns, keys);
  }

  async set(ns: string, entries: WriteEntry[]): Promise<boolean[]> {
    const vkeys = entries.map((e) => this.inner.valueKey(ns, e.key));
    this.tier.drop(vkeys);
    try {
      return await this.inner.set(ns, entries);
    } finally {
      this.tier.drop(vkeys);
    }
  }

  async delete(ns: string, keys: string[]): Promise<number> {
    const vkeys = keys.map((k) => this.inner.valueKey(ns, k));
    this.tier.drop(vkeys);
    try {
      return await this.inner.delete(ns, keys);
    } finally {
      this.tier.drop(vkeys);
    }
  }

  async clear(ns: string): Promise<void> {
    const prefix = this.stem(ns);
    this.tier.dropPrefix(prefix);
    try {
      await this.inner.clear(ns);
    } finally {
      this.tier.dropPrefix(prefix);
    }
  }

  iterate(ns: string): AsyncGenerator<[string, string]> {
    return this.inner.iterate(ns);
  }

  async invalidate(ns: string, request: Invalidation): Promise<{ removed: number; tags: string[] }> {
    try {
      return await this.inner.invalidate(ns, request);
    } finally {
      // The keys removed are known to Redis only: wait for its messages about them. If that fails
      // (a tracking connection lost meanwhile), the tier was flushed anyway; flush to be sure.
      await this.tracker.barrier().catch(() => this.tier.flush());
    }
  }

  capture(ns: string, key: string, deps: CompiledDependencies, lock?: { token: string; ttl: number }, skipValue?: boolean): Promise<Capture> {
    return this.inner.capture(ns, key, deps, lock, skipValue);
  }

  unlock(ns: string, key: string, token: string): Promise<void> {
    return this.inner.unlock(ns, key, token);
  }

  entriesFor(ns: string, tags: string[]): Promise<string[]> {
    return this.inner.entriesFor(ns, tags);
  }

  schemesOf(ns: string, table: string): Promise<string[]> {
    return this.inner.schemesOf(ns, table);
  }

  sweep(ns: string): Promise<number> {
    return this.inner.sweep(ns);
  }

  async close(): Promise<void> {
    this.tier.flush();
    await this.tracker.close();
    await this.inner.close();
  }
}
