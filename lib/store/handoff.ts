/**
 * The hand-off of set options from an attached Keyv 6 to the store.
 *
 * Keyv 6 resolves `set`'s third argument as a number and drops an object before the store sees it;
 * only its `BEFORE_SET`/`BEFORE_SET_MANY` hooks see the object. The hook installed by
 * `attachKeyv` parks the options here and replaces the write's key by a one-time key that names
 * them; the store takes them back when that key reaches it. A one-time key per write keeps
 * concurrent writes of the same key apart, whatever Keyv does between the hook and the store.
 */
import { SetOptionsLostError } from '../errors.js';

/** One-time keys start with this: no user key does (Keyv keys are text, this starts with NUL). */
const PREFIX = '\u0000keyv-clever:';

/**
 * Writes parked at once at most. A write whose Keyv never reached the store (its serializer
 * threw) leaves its options here; past this many, the oldest go, and a write that still comes
 * for them is refused rather than stored without its options.
 */
const MAX_PARKED = 10_000;

/** Whether a key is a one-time key (a write already parked by another hook). */
export const isParked = (key: unknown): boolean => typeof key === 'string' && key.startsWith(PREFIX);

export interface Parked {
  /** the key as the caller set it */
  key: string;
  /** the options as the caller gave them (`{ ttl, dependsOn }`, a ttl, or anything to be refused) */
  options: unknown;
}

export class Handoff {
  private readonly parked = new Map<string, Parked>();
  private next = 0;

  /** Parks a write's options; returns the one-time key that the write carries to the store. */
  park(key: string, options: unknown): string {
    const token = `${PREFIX}${(this.next++).toString(36)}:${key}`;
    this.parked.set(token, { key, options });
    if (this.parked.size > MAX_PARKED) this.parked.delete(this.parked.keys().next().value!);
    return token;
  }

  /** The parked write a key names, taken out; undefined for an ordinary key. */
  take(key: string): Parked | undefined {
    if (!isParked(key)) return undefined;
    const parked = this.parked.get(key);
    if (!parked) {
      throw new SetOptionsLostError(key.slice(key.indexOf(':', PREFIX.length) + 1), MAX_PARKED);
    }
    this.parked.delete(key);
    return parked;
  }
}
