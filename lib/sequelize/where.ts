/**
 * What a write's options say about the values of the rows it touches: the equalities its `where`
 * pins, and the values it assigns (a SQL expression assigns a value nobody knows here).
 * @internal
 */
import { attributeOf, type ModelMeta } from './meta.js';

const EQ = Symbol.for('eq');
const AND = Symbol.for('and');

/**
 * A value that can stand in an equality (string, number, bigint, boolean, null, Date, bytes);
 * not an operator object, a SQL expression or an array.
 * @internal
 */
export function isPlain(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string': case 'number': case 'bigint': case 'boolean': return true;
    case 'object': return value instanceof Date || value instanceof Uint8Array;
    default: return false;
  }
}

/** @internal A SQL expression (literal, fn, col…) has no value we can know: treat it as unknown. */
export function plainOrUnknown(value: unknown): unknown {
  return isPlain(value) ? value : undefined;
}

/**
 * The columns a `where` pins to one value for every row it matches: top-level `field: value`
 * (null included), `field: { [Op.eq]: value }` and the same inside `[Op.and]`. Anything else
 * (operators, arrays, literals) says nothing and is left out.
 * @internal
 */
export function whereEqualities(meta: ModelMeta, where: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!where || typeof where !== 'object' || Array.isArray(where)) return out;
  const proto = Object.getPrototypeOf(where);
  if (proto !== Object.prototype && proto !== null) return out; // sequelize.where(), literal(): opaque
  const record = where as Record<string | symbol, unknown>;
  for (const key of Object.keys(record)) {
    const attribute = attributeOf(meta, key);
    if (attribute === undefined) continue;
    let value = record[key];
    if (value && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array) && !Array.isArray(value)) {
      const keys = Reflect.ownKeys(value);
      value = keys.length === 1 && keys[0] === EQ ? (value as Record<symbol, unknown>)[EQ] : undefined;
    }
    if (value !== undefined && isPlain(value)) out[attribute] = value;
  }
  const and = record[AND];
  if (Array.isArray(and)) {
    for (const part of and) for (const [k, v] of Object.entries(whereEqualities(meta, part))) if (!(k in out)) out[k] = v;
  }
  return out;
}

/**
 * A row after a write of `values` (keyed by attribute or column name): `row` with the values
 * assigned, each as known as it is (a SQL expression leaves the column unknown).
 * @internal
 */
export function assigned(meta: ModelMeta, row: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  return { ...row, ...assignment(meta, values) };
}

/**
 * What a write of `values` assigns, attribute-keyed, each value as known as it is: `{ ...row,
 * ...assignment }` is `assigned(meta, row, values)`, for many rows at the price of one.
 * @internal
 */
export function assignment(meta: ModelMeta, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const attribute = attributeOf(meta, key);
    if (attribute !== undefined) out[attribute] = plainOrUnknown(value);
  }
  return out;
}
