/**
 * The narrow interface the read-through and the Sequelize integration use to reach into a
 * CleverStore, kept off its public surface. Reached through a `Symbol.for` key so that a store
 * built by another copy of the package (an ESM and a CommonJS load in one process) is still
 * recognised.
 * @internal
 */
import type { Capture } from '../backends/backend.js';
import type { CompiledDependencies, Invalidation } from '../dependencies.js';
import type { Convention } from './convention.js';
import type { GraceEvent } from './events.js';

/** @internal */
export const INTERNAL: unique symbol = Symbol.for('keyv-clever.internal') as never;

/** @internal */
export interface StoreInternals {
  /** the namespace the next operation works in (Keyv sets it on the store) */
  namespace(): string;
  /** true with `throwOnErrors` */
  throwsOnErrors(): boolean;
  /** emits `'error'` (no listener: dropped, like Keyv) */
  emitError(error: unknown): void;
  /**
   * The miss path of the read-through (getOrSet): the value if it appeared meanwhile, or the
   * generations of the dependencies' tags, read (and their schemes registered) before the loader
   * runs, and the fill lock when `lock` is given.
   */
  capture(key: string, deps: CompiledDependencies, lock?: { token: string; ttl: number }): Promise<Capture>;
  /** releases a fill lock taken by `capture` if `token` still holds it */
  release(key: string, token: string): Promise<void>;
  /** counts a read-through miss that waited for another process's fill lock */
  countLockWait(): void;
  /** counts and reports a read-through call that returned a value past its ttl (grace) */
  servedGrace(event: GraceEvent): void;
  /**
   * Carries out a compiled invalidation. If Redis fails, the request is queued for retry (reads
   * of the namespace miss until it has run), the error is emitted, and the call rejects.
   */
  invalidateRequest(request: Invalidation): Promise<number>;
  /** Like `invalidateRequest`, but never rejects: a failure is emitted and left to the retry queue. */
  invalidateOrQueue(request: Invalidation): Promise<number>;
  /** The schemes (escaped fields joined by `&`) entries of the current namespace use on `table`. */
  schemesOf(table: string): Promise<string[]>;
  /** A Keyv 6 was attached to the store (attachKeyv), and drives it in this convention if given. */
  attach(convention?: Convention): void;
  /** Parks a write's set options for the store; returns the one-time key the write carries (see handoff.ts). */
  park(key: string, options: unknown): string;
}

/** @internal The internals of a CleverStore (of any loaded copy of the package), or undefined. */
export function internalsOf(value: unknown): StoreInternals | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const internals = (value as { [INTERNAL]?: StoreInternals })[INTERNAL];
  return internals && typeof internals.invalidateOrQueue === 'function' ? internals : undefined;
}
