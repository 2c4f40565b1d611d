/**
 * Grace: a read-through entry kept past its ttl, so that an expired value can stand in when its
 * source fails. The store keeps such an entry in Redis for ttl + grace, its freshness written
 * before the value:
 *   "\x03" + freshUntil (ms since the epoch) + "\x03" + value
 * Reads treat an entry past its freshness as a miss, except a read made through
 * `readAllowingStale` (getOrSet with `grace`). Any other value starting with "\x03" is written
 * with an empty marker ("\x03\x03"), so it cannot pass for one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const MARK = 3;

/** The payload stored for a value; `freshUntil` only for an entry kept for grace. */
export function encodePayload(value: string, freshUntil?: number): string {
  if (freshUntil !== undefined) return `\x03${freshUntil}\x03${value}`;
  return value.charCodeAt(0) === MARK ? `\x03\x03${value}` : value;
}

/** A stored payload's value, and its freshness if it was kept for grace. */
export function decodePayload(payload: string): { value: string; freshUntil: number | undefined } {
  if (payload.charCodeAt(0) !== MARK) return { value: payload, freshUntil: undefined };
  const end = payload.indexOf('\x03', 1);
  const mark = payload.slice(1, end);
  return { value: payload.slice(end + 1), freshUntil: mark === '' ? undefined : Number(mark) };
}

/** Whether a payload was kept for grace and is past its freshness. */
export function isStale(payload: string, now = Date.now()): boolean {
  if (payload.charCodeAt(0) !== MARK) return false;
  const { freshUntil } = decodePayload(payload);
  return freshUntil !== undefined && freshUntil <= now;
}

/** A read made through readAllowingStale: whether it served a value past its freshness. */
interface StaleRead {
  stale: boolean;
}

const scope = new AsyncLocalStorage<StaleRead>();

/**
 * Runs a read (a `keyv.get`) that may return a value past its freshness, and tells whether it did.
 * The flag travels with the async context, through Keyv, to the store.
 */
export async function readAllowingStale<T>(read: () => Promise<T>): Promise<{ value: T; stale: boolean }> {
  const state: StaleRead = { stale: false };
  const value = await scope.run(state, read);
  return { value, stale: state.stale };
}

/**
 * The value a store read returns for a payload: the value, or undefined for an entry past its
 * freshness, unless the read allows it (it is then marked stale).
 */
export function servePayload(payload: string | undefined): string | undefined {
  if (payload === undefined || payload.charCodeAt(0) !== MARK) return payload;
  const { value, freshUntil } = decodePayload(payload);
  if (freshUntil === undefined || freshUntil > Date.now()) return value;
  const read = scope.getStore();
  if (!read) return undefined;
  read.stale = true;
  return value;
}
