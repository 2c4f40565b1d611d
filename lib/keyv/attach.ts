/**
 * `attachKeyv(keyv)`: wires a Keyv to its CleverStore so that set options (`{ ttl, dependsOn }`)
 * reach the store under both Keyv majors.
 *
 * Keyv 5 hands an options object to the store untouched: nothing to do. Keyv 6 resolves `set`'s
 * third argument (and a `setMany` entry's `ttl`) as a number and drops an object; only its
 * `BEFORE_SET` and `BEFORE_SET_MANY` hooks see it. The hooks installed here park the options with
 * the store and give the write a one-time key that names them (see store/handoff.ts), and hand
 * Keyv the ttl the store will apply, so the expiry Keyv writes into its envelope agrees.
 */
import { describe, InvalidOptionError } from '../errors.js';
import { isParked } from '../store/handoff.js';
import { internalsOf, type StoreInternals } from '../store/internal.js';

/** Keyv 6's hook names (`KeyvHooks.BEFORE_SET`, `KeyvHooks.BEFORE_SET_MANY`), spelled out so that Keyv 5 need not have them. */
const BEFORE_SET = 'before:set';
const BEFORE_SET_MANY = 'before:setMany';

/** What this module uses of a Keyv 6 (its hooks come from Hookified). */
interface Keyv6 {
  store: unknown;
  onHook(event: string, handler: (data: never) => void): void;
}

interface SetData {
  key: string;
  value: unknown;
  ttl?: unknown;
}

/**
 * Marks a Keyv 6 already attached, so attaching twice installs nothing more: a `Symbol.for` key,
 * seen by every loaded copy of the package (an ESM and a CommonJS load in one process).
 */
const ATTACHED = Symbol.for('keyv-clever.attached');

/** Keyv 6 has Hookified's hooks (`onHook`); Keyv 5 has neither. */
function isKeyv6(keyv: object): keyv is Keyv6 {
  return typeof (keyv as Partial<Keyv6>).onHook === 'function';
}

/** The CleverStore a Keyv uses, whether Keyv 6 uses it natively or through its KeyvBridgeAdapter. */
export interface StoreBehind {
  store: object;
  internals: StoreInternals;
  /** the store sits behind Keyv 6's bridge, which hands it relative ttls */
  bridged: boolean;
}

/** The CleverStore behind a Keyv (its `store`, or the store its bridge wraps as `store`), if any. */
export function storeBehind(keyv: unknown): StoreBehind | undefined {
  const outer = (keyv as { store?: unknown } | null | undefined)?.store;
  const direct = internalsOf(outer);
  if (direct) return { store: outer as object, internals: direct, bridged: false };
  const inner = (outer as { store?: unknown } | null | undefined)?.store;
  const wrapped = internalsOf(inner);
  return wrapped ? { store: inner as object, internals: wrapped, bridged: true } : undefined;
}

/**
 * Wires `keyv` (a Keyv 5 or 6 whose store is a CleverStore, used natively or through Keyv 6's
 * bridge) so that `keyv.set(key, value, { ttl, dependsOn })` and `setMany` entries with
 * `ttl: { ttl, dependsOn }` reach the store. Returns `keyv`. Harmless on Keyv 5 and when called
 * again. On Keyv 6, `BEFORE_SET` hooks added after this one see the write's one-time key.
 *
 * ```ts
 * const keyv = attachKeyv(new Keyv({ store: new CleverStore(url), namespace: 'app' }));
 * ```
 */
export function attachKeyv<K extends object>(keyv: K): K {
  const found = storeBehind(keyv);
  if (!found) {
    throw new InvalidOptionError('keyv', keyv, `attachKeyv(): expected a Keyv whose store is a CleverStore, got ${describe((keyv as { store?: unknown } | null | undefined)?.store ?? keyv)}`);
  }
  if (!isKeyv6(keyv)) return keyv;
  found.internals.attach(found.bridged ? 'keyv6-bridge' : 'keyv6');
  if ((keyv as { [ATTACHED]?: boolean })[ATTACHED]) return keyv;
  Object.defineProperty(keyv, ATTACHED, { value: true });
  keyv.onHook(BEFORE_SET, (data: SetData) => {
    const parked = park(keyv, data);
    if (parked) Object.assign(data, parked);
  });
  keyv.onHook(BEFORE_SET_MANY, (data: { entries: SetData[] }) => {
    data.entries = data.entries.map((entry) => {
      const parked = park(keyv, entry);
      return parked ? { ...entry, ...parked } : entry;
    });
  });
  return keyv;
}

/**
 * Parks a write's ttl or options with the store it goes to; returns the one-time key and the ttl
 * Keyv should compute its expiry from, or undefined for a write that needs neither (no ttl given,
 * or one Keyv refuses before the store: a symbol value).
 */
function park(keyv: Keyv6, data: SetData): { key: string; ttl: number } | undefined {
  if (data.ttl === undefined || typeof data.value === 'symbol' || isParked(data.key)) return undefined;
  const found = storeBehind(keyv); // (the store may have been replaced since)
  if (!found) return undefined;
  return { key: found.internals.park(data.key, data.ttl), ttl: envelopeTtl(data.ttl, found.store) };
}

/**
 * The ttl the store applies to a write (checked there), for Keyv's envelope: 0, Keyv 6's "no
 * expiry", where the store applies none or refuses the write. Keyv's own default ttl never
 * applies to an options object, as on Keyv 5.
 */
function envelopeTtl(options: unknown, store: object): number {
  const given = typeof options === 'object' && options !== null ? (options as { ttl?: unknown }).ttl : options;
  const ttl = given === undefined ? (store as { defaultTtl?: number }).defaultTtl : given;
  return typeof ttl === 'number' && ttl > 0 && Number.isFinite(ttl) ? ttl : 0;
}
