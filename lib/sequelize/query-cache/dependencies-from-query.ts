/**
 * The dependencies of a finder call, derived from its resolved options (and, for includes, from
 * the rows it found), exact where the query allows and never fewer than its result reads:
 * - the root where: `matching()` of each equality conjunction it implies (conditions.ts), the
 *   whole table when it pins nothing;
 * - an include whose rows cannot change which parents are found (a plain LEFT JOIN): the
 *   association's membership for each parent found (`related(parent, alias)`: the children's
 *   foreign key, or the join-table rows) and, through a join table or a belongsTo, the content of
 *   the rows it found;
 * - an include that can (required, right, a custom `on`, rows counted or grouped, a limit over
 *   an order on joined columns, `$nested.column$` references): every row of it the include's own
 *   where can match, known before the load;
 * - a table a `literal()` names.
 * Before the load, the guard covers everything: a write that commits while the query runs is seen.
 * @internal
 */
import { Matching, type Dependency } from '../../dependencies.js';
import { instanceMatching, modelMatching, Related } from '../kind.js';
import { metaOf } from '../meta.js';
import { isInstance, type InstanceLike, type ModelLike } from '../model.js';
import { conjunctionsOf, type Conjunction } from './conditions.js';
import { childIncludes, type ResolvedInclude, type ResolvedOptions } from './prepare.js';
import { literalTables } from './literal-tables.js';

/** More dependencies than this from one include level: its whole tables instead. */
const MAX_PER_INCLUDE = 200;

export interface QueryDependencies {
  /** captured before the load: writes that commit during it refuse the write-back */
  guard: Dependency[];
  /** the dependencies stored with the entry, known before the load */
  stable: Dependency[];
  /** the dependencies read off the rows found (includes joined per parent) */
  fromResult?: (instances: InstanceLike[]) => Dependency[];
}

const wholeTable = (model: ModelLike): Matching => new Matching(metaOf(model).table, {});

/** `matching(model, conjunction)`, leaving out a field whose value the column cannot hold. */
function matchingOf(model: ModelLike, conjunction: Conjunction): Matching {
  try {
    return modelMatching(model, conjunction);
  } catch {
    const kept: Conjunction = {};
    for (const [field, value] of Object.entries(conjunction)) {
      try {
        modelMatching(model, { [field]: value });
        kept[field] = value;
      } catch { /* unknown to the tags: the field only narrows */ }
    }
    return modelMatching(model, kept);
  }
}

/** The dependencies of every row `where` can match on `model`'s table. */
function rowsMatching(model: ModelLike, where: unknown): Matching[] {
  const conjunctions = conjunctionsOf(metaOf(model), where);
  if (conjunctions.length === 0 || conjunctions.some((c) => Object.keys(c).length === 0)) return [wholeTable(model)];
  return conjunctions.map((c) => matchingOf(model, c));
}

/** Does a where name columns of joined tables (`'$author.name$'`)? */
function hasNestedReference(where: unknown, seen = new Set<unknown>()): boolean {
  if (where === null || typeof where !== 'object' || seen.has(where)) return false;
  seen.add(where);
  for (const key of Reflect.ownKeys(where)) {
    if (typeof key === 'string' && key.startsWith('$') && key.endsWith('$')) return true;
    if (hasNestedReference((where as Record<string | symbol, unknown>)[key], seen)) return true;
  }
  return false;
}

/** An order made only of the root's own attributes (`'title'`, `['title', 'DESC']`). */
function plainOrder(order: unknown): boolean {
  if (order === undefined || order === null) return true;
  if (typeof order === 'string') return true;
  if (!Array.isArray(order)) return false;
  return order.every((item) => typeof item === 'string' || (Array.isArray(item) && item.length <= 2 && item.every((part) => typeof part === 'string')));
}

/** Can the rows joined by this include change which rows above it are found or how many? */
function decidesParents(include: ResolvedInclude): boolean {
  return include.required === true || include.right === true || include.on !== undefined || hasNestedReference(include.where);
}

export interface DependencyMode {
  /** counts, sums, raw rows: no instances to read the parents off, every include is whole */
  aggregate: boolean;
}

/** Derives the dependencies of a call on `model` with `resolved` options. */
export function queryDependencies(model: ModelLike, resolved: ResolvedOptions, mode: DependencyMode): QueryDependencies {
  const stable: Dependency[] = [...rowsMatching(model, resolved.where)];
  for (const table of literalTables(model, resolved)) stable.push(new Matching(table, {}));
  const joined: Dependency[] = [];
  const allWhole = mode.aggregate || resolved.raw === true || hasNestedReference(resolved.where) || resolved.having !== undefined
    || resolved.group !== undefined || ((resolved.limit != null || resolved.offset != null) && !plainOrder(resolved.order));
  let perParent = false;
  const plan = (level: { include?: ResolvedInclude[] }) => {
    for (const include of childIncludes(level)) {
      const whole = allWhole || decidesParents(include);
      if (whole) stable.push(...wholeInclude(include));
      else {
        perParent = true;
        joined.push(...tablesOf(include));
      }
      plan(include);
    }
  };
  plan(resolved);
  const guard = [...stable, ...joined];
  if (!perParent) return { guard, stable };
  return {
    guard,
    stable,
    fromResult: (instances) => {
      const out: Dependency[] = [];
      const visit = (level: { include?: ResolvedInclude[] }, parents: InstanceLike[]) => {
        for (const include of childIncludes(level)) {
          const children = parents.flatMap((parent) => asInstances(parent.dataValues[include.as]));
          if (!allWhole && !decidesParents(include)) out.push(...membership(include, parents, children));
          visit(include, children);
        }
      };
      visit(resolved, instances);
      return out;
    },
  };
}

function asInstances(value: unknown): InstanceLike[] {
  if (Array.isArray(value)) return value.filter(isInstance);
  return isInstance(value) ? [value] : [];
}

/** The tables an include reads: its model, and its join table. */
function tablesOf(include: ResolvedInclude): Matching[] {
  const through = include.association.through?.model;
  return through ? [wholeTable(include.model), wholeTable(through)] : [wholeTable(include.model)];
}

/** Every row the include's where (and the join table's) can match. */
function wholeInclude(include: ResolvedInclude): Matching[] {
  const out = rowsMatching(include.model, include.where);
  const through = include.association.through?.model;
  if (through) out.push(...rowsMatching(through, include.through?.where));
  return out;
}

/** The membership of each parent found, and the content of the children found where it is not in it. */
function membership(include: ResolvedInclude, parents: InstanceLike[], children: InstanceLike[]): Matching[] {
  const out = new Map<string, Matching>();
  const add = (m: Matching) => out.set(`${m.table}\u0000${JSON.stringify(Object.entries(m.where), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`, m);
  try {
    for (const parent of parents) {
      const key = parent.get(include.association.sourceKey ?? metaOf(parent.constructor).primaryKey[0]!, { raw: true });
      if (include.association.associationType !== 'BelongsTo' && key === null) continue; // joins no row
      if (include.association.associationType === 'BelongsTo' && (parent.get(include.association.foreignKey, { raw: true }) ?? null) === null) continue;
      new Related(parent, include.as, include.association).conjunctions().forEach(add);
      if (out.size > MAX_PER_INCLUDE) return tablesOf(include);
    }
    // Rows reached through a join table change without the membership changing: depend on each.
    if (include.association.associationType === 'BelongsToMany') {
      for (const child of children) {
        add(instanceMatching(child, `include '${include.as}'`));
        if (out.size > MAX_PER_INCLUDE) return tablesOf(include);
      }
    }
  } catch {
    // A key the rows found do not carry (an attribute left out): the include's whole tables.
    return tablesOf(include);
  }
  return [...out.values()];
}
