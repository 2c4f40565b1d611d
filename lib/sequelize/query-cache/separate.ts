/**
 * Includes loaded by a query of their own (`separate: true`) are set on their parents after the
 * parents are built (`parent.set(alias, rows, { raw: true })`), so their values are not among the
 * parents' previous values. The rebuild does the same: their data is taken off before the build
 * and set afterwards, at the same places.
 * @internal
 */
import type { InstanceLike } from '../model.js';
import { childIncludes, type ResolvedInclude } from './prepare.js';

type Data = Record<string, unknown>;
/** Where a separate include's rows go: the root row, then (alias, index) down joined includes. */
interface Deferred {
  path: Array<[string, number | undefined]>;
  root: number;
  alias: string;
  rows: unknown;
}

/** Takes the data of separate includes off `rows` (in place), to set after the build. */
export function takeSeparate(rows: unknown[], level: { include?: ResolvedInclude[] }): Deferred[] {
  const out: Deferred[] = [];
  const walk = (data: unknown, include: { include?: ResolvedInclude[] }, root: number, path: Deferred['path']) => {
    if (!data || typeof data !== 'object') return;
    for (const child of childIncludes(include)) {
      const value = (data as Data)[child.as];
      if (value === undefined) continue;
      if (child.separate) {
        out.push({ path, root, alias: child.as, rows: value });
        delete (data as Data)[child.as];
      } else if (Array.isArray(value)) value.forEach((item, i) => walk(item, child, root, [...path, [child.as, i]]));
      else walk(value, child, root, [...path, [child.as, undefined]]);
    }
  };
  if (childIncludes(level).some(hasSeparate)) rows.forEach((row, i) => walk(row, level, i, []));
  return out;
}

const hasSeparate = (include: ResolvedInclude): boolean => include.separate === true || childIncludes(include).some(hasSeparate);

/** Sets the separate includes taken off by takeSeparate on the built instances. */
export function setSeparate(instances: InstanceLike[], deferred: Deferred[]): void {
  for (const { path, root, alias, rows } of deferred) {
    let node: unknown = instances[root];
    for (const [as, index] of path) {
      const value = (node as InstanceLike | undefined)?.dataValues[as];
      node = index === undefined ? value : (value as unknown[] | undefined)?.[index];
    }
    (node as { set(key: string, value: unknown, options: { raw: boolean }): void } | undefined)?.set(alias, rows, { raw: true });
  }
}
