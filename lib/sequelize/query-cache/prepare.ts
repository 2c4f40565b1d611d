/**
 * A finder's options as Sequelize itself resolves them before it builds SQL: the scope merged in,
 * includes conformed, `all: true` expanded and validated (associations, aliases, `required`,
 * through tables, nested includes). The same static steps `Model.findAll` runs, on a copy, so the
 * dependencies follow exactly what the query reads and a cached result is rebuilt with the include
 * tree Sequelize would have given it.
 * @internal
 */
import type { AssociationLike, ModelLike } from '../model.js';

/** One resolved include, as `_validateIncludedElements` leaves it. */
export interface ResolvedInclude {
  model: ModelLike;
  as: string;
  association: AssociationLike & { isSingleAssociation?: boolean; isMultiAssociation?: boolean };
  where?: unknown;
  on?: unknown;
  required?: boolean;
  right?: boolean;
  separate?: boolean;
  through?: ResolvedInclude & { _pseudo?: boolean };
  include?: ResolvedInclude[];
  includeNames?: string[];
  includeMap?: Record<string, ResolvedInclude>;
  originalAttributes?: string[];
  _pseudo?: boolean;
}

/** The options after Sequelize's resolution (a copy: the caller's object is left alone). */
export interface ResolvedOptions extends Record<string, unknown> {
  where?: unknown;
  include?: ResolvedInclude[];
  includeNames?: string[];
  includeMap?: Record<string, ResolvedInclude>;
  raw?: boolean;
}

/** The static steps of sequelize 6's Model that findAll runs on its options. */
interface ModelStatics {
  _injectScope(options: Record<string, unknown>): void;
  _conformIncludes(options: Record<string, unknown>, self: unknown): void;
  _expandAttributes(options: Record<string, unknown>): void;
  _expandIncludeAll(options: Record<string, unknown>): void;
  _validateIncludedElements(options: Record<string, unknown>, tableNames?: Record<string, boolean>): void;
}

/**
 * Copies plain objects and arrays (symbol keys too: Sequelize's operators), keeps everything
 * else (models, associations, SQL expressions, Dates) by reference, as Sequelize's cloneDeep does.
 */
export function cloneOptions<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneOptions) as T;
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string | symbol, unknown> = {};
  for (const key of Reflect.ownKeys(value)) out[key] = cloneOptions((value as Record<string | symbol, unknown>)[key]);
  return out as T;
}

/**
 * Resolves `options` for `model` the way findAll does (minus the user's find hooks); throws what
 * Sequelize throws for options it would refuse.
 */
export function resolveOptions(model: ModelLike, options: Record<string, unknown>): ResolvedOptions {
  const statics = model as unknown as ModelStatics;
  const resolved = cloneOptions(options) as ResolvedOptions;
  statics._injectScope(resolved);
  statics._conformIncludes(resolved, model);
  statics._expandAttributes(resolved);
  statics._expandIncludeAll(resolved);
  if (resolved.include) statics._validateIncludedElements(resolved, {});
  return resolved;
}

/** The includes of a level that are real associations (not the pseudo include of a through table). */
export function childIncludes(level: { include?: ResolvedInclude[] }): ResolvedInclude[] {
  return (level.include ?? []).filter((include) => !include._pseudo);
}
