/**
 * A finder's result as cacheable data, and back. Instances are kept as their `dataValues` (the
 * included ones nested under their aliases) and rebuilt the way Sequelize builds a query's rows:
 * `bulkBuild(rows, { isNewRecord: false, raw: true, attributes, include… })` with the include
 * tree resolved from the same options. So a hit gives real instances, indistinguishable from the
 * query's own: not new, nothing changed, getters, virtuals and includes at every depth.
 * @internal
 */
import { isInstance, type InstanceLike, type ModelLike } from '../model.js';
import { decode, encode } from './codec.js';
import type { ResolvedOptions } from './prepare.js';
import { setSeparate, takeSeparate } from './separate.js';

export type Finder = 'findAll' | 'findOne' | 'findByPk' | 'findAndCountAll' | 'count' | 'max' | 'min' | 'sum';

/** What is stored: the result's data and the attribute list its instances were built with. */
export interface Payload {
  /** instances' `_options.attributes` (null: none, or plain results) */
  a: string[] | null;
  r: unknown;
}

/** Finders whose result holds model instances (unless `raw`). */
const ROW_FINDERS = new Set<Finder>(['findAll', 'findOne', 'findByPk', 'findAndCountAll']);

/** Does this call return instances? */
export const returnsInstances = (finder: Finder, resolved: ResolvedOptions): boolean => ROW_FINDERS.has(finder) && resolved.raw !== true;

/** The top-level instances of a result (to read the parents of includes off). */
export function instancesOf(finder: Finder, result: unknown): InstanceLike[] {
  const rows = finder === 'findAndCountAll' ? (result as { rows?: unknown } | null)?.rows : result;
  if (Array.isArray(rows)) return rows.filter(isInstance);
  return isInstance(rows) ? [rows] : [];
}

const dataValues = (value: object): object | undefined => (isInstance(value) ? value.dataValues : undefined);

/** The result as JSON-safe data; throws NotEncodable for a value it cannot carry. */
export function encodeResult(finder: Finder, result: unknown): Payload {
  const first = instancesOf(finder, result)[0] as (InstanceLike & { _options?: { attributes?: unknown } }) | undefined;
  const attributes = first?._options?.attributes;
  return {
    a: Array.isArray(attributes) && attributes.every((a) => typeof a === 'string') ? attributes : null,
    r: encode(result, dataValues),
  };
}

interface Buildable {
  bulkBuild(rows: unknown[], options: Record<string, unknown>): InstanceLike[];
}

/** Builds instances of `model` from cached rows, with the options Sequelize builds a query's rows with. */
function build(model: ModelLike, rows: unknown[], attributes: string[] | null, resolved: ResolvedOptions): InstanceLike[] {
  const options: Record<string, unknown> = { isNewRecord: false, raw: true };
  if (resolved.include) {
    options.include = resolved.include;
    options.includeNames = resolved.includeNames;
    options.includeMap = resolved.includeMap;
    options.includeValidated = true;
  }
  options.attributes = attributes ?? undefined;
  const deferred = takeSeparate(rows, resolved);
  const instances = (model as unknown as Buildable).bulkBuild(rows, options);
  setSeparate(instances, deferred);
  return instances;
}

/** Turns a payload back into what `finder` returns, with fresh objects for every call. */
export function decodeResult(finder: Finder, payload: Payload, model: ModelLike, resolved: ResolvedOptions): unknown {
  const data = decode(payload.r);
  if (!returnsInstances(finder, resolved)) return data;
  const rows = (list: unknown) => build(model, list as unknown[], payload.a, resolved);
  switch (finder) {
    case 'findAll': return rows(data);
    case 'findAndCountAll': {
      const { count, rows: list } = data as { count: unknown; rows: unknown[] };
      return { count, rows: rows(list) };
    }
    default: return data === null ? null : rows([data])[0];
  }
}
