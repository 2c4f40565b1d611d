/**
 * What a `where` says about the rows it can match, as a union of equality conjunctions: every row
 * the where matches matches at least one of them. `{ authorId: 7 }` is `[{ authorId: 7 }]`;
 * `{ authorId: [1, 2] }` is `[{ authorId: 1 }, { authorId: 2 }]`; a condition that pins nothing
 * by equality (a range, LIKE, a literal) is the empty conjunction, which every row matches. So a
 * cached result that depends on `matching()` of each conjunction is invalidated by any change to a
 * row it could contain: wider than the where where needed, never narrower.
 * @internal
 */
import { attributeOf, type ModelMeta } from '../meta.js';
import { isPlain } from '../where.js';

export type Conjunction = Record<string, unknown>;

const OP = {
  and: Symbol.for('and'), or: Symbol.for('or'), eq: Symbol.for('eq'), is: Symbol.for('is'), in: Symbol.for('in'),
} as const;

/** More conjunctions than this and the union is no longer worth it: the whole table instead. */
export const MAX_CONJUNCTIONS = 64;

/** Every row: the empty conjunction. */
const ANY: Conjunction[] = [{}];

const isPlainObject = (value: unknown): value is Record<string | symbol, unknown> => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

const isAny = (list: Conjunction[]): boolean => list.length === 1 && Object.keys(list[0]!).length === 0;

/** Both conditions hold: each pair of conjunctions merged (a pair that disagrees matches nothing). */
function and(a: Conjunction[], b: Conjunction[]): Conjunction[] {
  if (isAny(a)) return capped(b);
  if (isAny(b)) return capped(a);
  // Too many pairs: either side alone is still a superset of the rows matched.
  if (a.length * b.length > MAX_CONJUNCTIONS) return capped(a.length >= b.length ? a : b);
  const out: Conjunction[] = [];
  for (const x of a) {
    for (const y of b) {
      let merged: Conjunction | undefined = { ...x };
      for (const [field, value] of Object.entries(y)) {
        if (field in merged && !sameLiteral(merged[field], value)) {
          merged = undefined;
          break;
        }
        merged[field] = value;
      }
      if (merged) out.push(merged);
    }
  }
  return out;
}

/** A union too long to be worth indexing is every row. */
const capped = (list: Conjunction[]): Conjunction[] => (list.length > MAX_CONJUNCTIONS ? ANY : list);

/** Either condition: the union, unless it grows too big. */
function or(parts: Conjunction[][]): Conjunction[] {
  const out: Conjunction[] = [];
  for (const part of parts) {
    if (part.some((c) => Object.keys(c).length === 0)) return ANY;
    out.push(...part.slice(0, MAX_CONJUNCTIONS + 1 - out.length));
    if (out.length > MAX_CONJUNCTIONS) return ANY;
  }
  return out;
}

const sameLiteral = (a: unknown, b: unknown): boolean => a === b || (a instanceof Date && b instanceof Date && a.getTime() === b.getTime());

/** The values one field may take, or undefined when the condition does not pin it by equality. */
function fieldValues(condition: unknown): unknown[] | undefined {
  if (isPlain(condition)) return [condition];
  if (Array.isArray(condition)) return condition.every(isPlain) ? condition : undefined; // `field: [1, 2]` is IN
  if (!isPlainObject(condition)) return undefined; // literal, fn, col: says nothing
  let values: unknown[] | undefined;
  const narrow = (next: unknown[] | undefined) => {
    if (next === undefined) return;
    values = values === undefined ? next : values.filter((v) => next.some((w) => sameLiteral(v, w)));
  };
  for (const key of Reflect.ownKeys(condition)) {
    const operand = condition[key];
    if (key === OP.eq) narrow(isPlain(operand) ? [operand] : undefined);
    else if (key === OP.is) narrow(operand === null ? [null] : undefined);
    else if (key === OP.in) narrow(Array.isArray(operand) && operand.every(isPlain) ? operand : undefined);
    else if (key === OP.or) {
      const parts = Array.isArray(operand) ? operand.map(fieldValues) : undefined;
      narrow(parts && parts.every((p) => p !== undefined) ? parts.flat() : undefined);
    } else if (key === OP.and) {
      for (const part of Array.isArray(operand) ? operand : [operand]) narrow(fieldValues(part));
    }
    // Any other operator (gt, like, ne, not…) only filters: it pins nothing.
  }
  return values;
}

/**
 * The union of equality conjunctions a where implies on `meta`'s table, keyed by attribute name.
 * An empty list means the where can match no row; `[{}]` that it pins nothing.
 */
export function conjunctionsOf(meta: ModelMeta, where: unknown): Conjunction[] {
  if (where === undefined || where === null) return ANY;
  if (Array.isArray(where)) return where.reduce<Conjunction[]>((acc, part) => and(acc, conjunctionsOf(meta, part)), ANY);
  if (!isPlainObject(where)) return ANY; // sequelize.where(), literal(): opaque
  let out = ANY;
  for (const key of Reflect.ownKeys(where)) {
    const value = where[key];
    if (key === OP.and) out = and(out, conjunctionsOf(meta, Array.isArray(value) ? value : [value]));
    else if (key === OP.or) out = and(out, or((Array.isArray(value) ? value : [value]).map((part) => conjunctionsOf(meta, part))));
    else if (typeof key === 'string') {
      const attribute = attributeOf(meta, key);
      if (attribute === undefined || !meta.columns.get(attribute)?.norm) continue; // `$nested.field$`, JSON paths, untaggable columns
      const values = fieldValues(value);
      if (values !== undefined) out = and(out, values.map((v) => ({ [attribute]: v })));
    }
  }
  return out;
}
