/**
 * A wait on the database's catalog with a deadline: a pool exhausted by the write's own
 * transaction (a pool of one) must not hold the write forever; past the deadline the write is
 * widened instead.
 * @internal
 */

/** @internal How long a write waits for a catalog read before it widens. */
export const CATALOG_WAIT = 5_000;

/** @internal `promise`, or a rejection once `ms` have passed. */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the catalog did not answer within ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
