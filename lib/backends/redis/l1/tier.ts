import { LRUCache } from 'lru-cache';

/** The bounds of the in-process tier (checked and defaulted by the store's options). */
export interface TierOptions {
  /** most entries held */
  maxEntries: number;
  /** most bytes held, as estimated by `entryBytes` */
  maxBytes: number;
  /** longest an entry is held, ms, whatever its Redis expiry (undefined: its Redis expiry alone) */
  ttl: number | undefined;
}

/**
 * What an entry is estimated to cost: its key and value as UTF-16 strings, plus the LRU's own
 * bookkeeping per entry (its slots in the key map, the lists, the ttl arrays).
 */
export const ENTRY_OVERHEAD = 96;
export const entryBytes = (payload: string, key: string): number => 2 * (payload.length + key.length) + ENTRY_OVERHEAD;

/**
 * A read in flight: filling the tier with its reply is allowed only if neither the whole tier
 * (epoch) nor the read's own key (version) was invalidated since it was sent.
 */
export interface Ticket {
  readonly epoch: number;
  readonly keys: readonly string[];
  readonly versions: readonly number[];
  /** performance.now() when the read was sent: the entry's expiry counts from then */
  readonly started: number;
}

interface Reading {
  readers: number;
  version: number;
}

/**
 * The in-process tier: an LRU bounded by entries and bytes, each entry kept until its own Redis
 * expiry at most (Redis reports an expiry only when its expiry cycle finds the key, which may be
 * much later). Keys are Redis value keys without the client's keyPrefix; values are stored
 * payloads, as the backend reads them.
 *
 * It knows nothing of Redis: the tracking drops keys and flushes it, the backend fills it.
 */
export class Tier {
  private readonly cache: LRUCache<string, string>;
  /** bumped by every flush: a read sent before it must not fill the tier */
  private epoch = 0;
  /** keys with reads in flight, and how often each was invalidated meanwhile */
  private readonly reading = new Map<string, Reading>();

  constructor(private readonly options: TierOptions) {
    this.cache = new LRUCache<string, string>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: entryBytes,
      // Expiry checked exactly on every read: an entry is never served past its Redis expiry.
      ttlResolution: 0,
      updateAgeOnGet: false,
      allowStale: false,
    });
  }

  /** The payload held for a key, if any and not expired. */
  get(key: string): string | undefined {
    return this.cache.get(key);
  }

  /** Registers a read about to be sent for `keys`. Every ticket must be ended (`end`). */
  begin(keys: readonly string[]): Ticket {
    const versions = keys.map((key) => {
      let entry = this.reading.get(key);
      if (!entry) this.reading.set(key, (entry = { readers: 0, version: 0 }));
      entry.readers++;
      return entry.version;
    });
    return { epoch: this.epoch, keys, versions, started: performance.now() };
  }

  /**
   * Stores the reply for the ticket's `i`-th key, unless the tier or that key was invalidated
   * while the read was in flight. `pttl` is Redis's PTTL for the key (-1: no expiry; -2: gone).
   */
  fill(ticket: Ticket, i: number, payload: string, pttl: number): boolean {
    if (ticket.epoch !== this.epoch) return false;
    const key = ticket.keys[i]!;
    if (this.reading.get(key)?.version !== ticket.versions[i]) return false;
    if (pttl === -2 || pttl === 0) return false;
    const cap = this.options.ttl;
    const ttl = pttl < 0 ? cap : cap === undefined ? pttl : Math.min(pttl, cap);
    this.cache.set(key, payload, { ttl: ttl ?? 0, start: ticket.started });
    return this.cache.has(key);
  }

  /** Ends a read (filled or not). */
  end(ticket: Ticket): void {
    for (const key of ticket.keys) {
      const entry = this.reading.get(key);
      if (entry && --entry.readers <= 0) this.reading.delete(key);
    }
  }

  /** Drops keys, and keeps reads of them in flight from filling the tier. */
  drop(keys: Iterable<string>): void {
    for (const key of keys) {
      this.cache.delete(key);
      const entry = this.reading.get(key);
      if (entry) entry.version++;
    }
  }

  /** Drops every key starting with `prefix` (a namespace cleared), and its reads in flight. */
  dropPrefix(prefix: string): void {
    const keys: string[] = [];
    for (const key of this.cache.keys()) if (key.startsWith(prefix)) keys.push(key);
    for (const key of this.reading.keys()) if (key.startsWith(prefix)) keys.push(key);
    this.drop(keys);
  }

  /** Drops everything; no read sent before this fills the tier. */
  flush(): void {
    this.epoch++;
    this.cache.clear();
  }

  /** Entries held (some perhaps expired and not yet purged). */
  get size(): number {
    return this.cache.size;
  }

  /** Bytes held, as estimated by `entryBytes`. */
  get bytes(): number {
    return this.cache.calculatedSize;
  }
}
