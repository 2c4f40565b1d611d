/**
 * The Keyv in front of a store, as the store sees it: the convention it speaks (convention.ts:
 * expiries and keys differ between the majors), whether a Keyv 6 was attached so that its set
 * options reach the store (handoff.ts), and each write as it arrives, turned into the store's
 * terms.
 */
import { describe, UnattachedKeyvError } from '../errors.js';
import type { WriteEntry } from '../backends/backend.js';
import { EXPIRED, prefixesKeys, takesExpires, ttlFromExpires, type Convention } from './convention.js';
import { Handoff } from './handoff.js';
import { localKey, localKeys, prepareWrite, type WriteLimits } from './writes.js';

export class KeyvCaller {
  /** Keyv 5 until Keyv 6 adopts the store */
  #convention: Convention = 'keyv5';
  /** set options an attached Keyv 6 parked for its writes */
  readonly #handoff = new Handoff();
  /** a Keyv 6 was attached (attachKeyv): its set options reach the store */
  #attached = false;
  #reportedUnattached = false;

  constructor(
    private readonly limits: WriteLimits,
    /** told once when a Keyv 6 that nobody attached writes (its set options are lost) */
    private readonly unattached: (error: UnattachedKeyvError) => void,
  ) {}

  get convention(): Convention {
    return this.#convention;
  }

  /** Keyv 6 read the store's capabilities: it uses the store natively from now on. */
  adopted(): void {
    if (this.#convention === 'keyv5') this.#convention = 'keyv6';
  }

  /** A Keyv 6 was attached (attachKeyv), driving the store in `convention` if given. */
  attach(convention?: Convention): void {
    this.#attached = true;
    if (convention) this.#convention = convention;
  }

  /** Parks a write's set options; the one-time key that names them. */
  park(key: string, options: unknown): string {
    return this.#handoff.park(key, options);
  }

  /** Whether keys arrive prefixed with `namespace:` (Keyv 5). */
  get prefixed(): boolean {
    return prefixesKeys(this.#convention);
  }

  /** Whether a number given to `set` is an absolute expiry (Keyv 6, native). */
  get takesExpires(): boolean {
    return takesExpires(this.#convention);
  }

  /** A key inside the namespace (Keyv 5's prefix removed). */
  local(key: unknown, ns: string): string {
    return localKey(key, ns, this.prefixed);
  }

  /** Keys inside the namespace, checked. */
  locals(keys: unknown, ns: string): string[] {
    return localKeys(keys, ns, this.prefixed);
  }

  /**
   * A write as the caller gives it, checked and compiled: the options an attached Keyv 6 parked
   * for it, or the third argument in the caller's convention. EXPIRED for a Keyv 6 write whose
   * expiry has passed. `expires` says the argument is an absolute expiry (Keyv 6's setMany).
   */
  prepare(ns: string, key: unknown, value: unknown, ttlOrOptions: unknown, expires: boolean): WriteEntry | typeof EXPIRED {
    const parked = typeof key === 'string' ? this.#handoff.take(key) : undefined;
    if (parked) return prepareWrite(this.local(parked.key, ns), value, parked.options, this.limits);
    let ttl = ttlOrOptions;
    if (this.takesExpires) {
      this.#reportUnattached(ns);
      if (expires || typeof ttlOrOptions === 'number') {
        ttl = ttlFromExpires(ttlOrOptions, () => `expires for key ${describe(key)}`);
        if (ttl === EXPIRED) return EXPIRED;
      }
    }
    return prepareWrite(this.local(key, ns), value, ttl, this.limits);
  }

  /** Keyv 6 drops set options before an un-attached store sees them: said once per store. */
  #reportUnattached(ns: string): void {
    if (this.#attached || this.#reportedUnattached) return;
    this.#reportedUnattached = true;
    this.unattached(new UnattachedKeyvError(ns));
  }
}
