import { AsyncLocalStorage } from 'node:async_hooks';
import { compileDependencies, type Dependency } from './dependencies.js';
import { InvalidOptionError } from './errors.js';

const scope = new AsyncLocalStorage<readonly Dependency[]>();

/**
 * Runs `fn` so that every cache write made inside it (directly or through cache-manager,
 * cacheable or any other Keyv-based layer) records `dependsOn` as well. Nested calls add up.
 *
 * ```ts
 * const posts = await withDependencies([Post, related(author, 'posts')], () => cache.wrap(key, load));
 * ```
 */
export function withDependencies<T>(dependsOn: readonly Dependency[], fn: () => T): T {
  compileDependencies(dependsOn, 'withDependencies() dependsOn'); // bad input fails here, not at the first write
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', fn, 'withDependencies(): the second argument must be a function');
  const outer = scope.getStore();
  return scope.run(outer ? [...outer, ...dependsOn] : [...dependsOn], fn);
}

/** The dependencies that `withDependencies` attaches in the current async context. */
export function currentDependencies(): readonly Dependency[] | undefined {
  return scope.getStore();
}
