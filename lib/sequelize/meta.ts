/**
 * Per-model metadata (table, primary key, columns and how each compares) and what is built from
 * it: canonical `where`s for dependencies, row images for invalidations, attribute-keyed values.
 * @internal
 */
import { BadDependencyError } from '../errors.js';
import { describe as describeValue, encodeRow, type RowImage, type WhereValue } from '../dependencies.js';
import { modelName, tableOf, type InstanceLike, type ModelLike } from './model.js';
import { normalizeValue, normOf, NOT_NORMALIZABLE, sameValue, typeKey, type Norm } from './normalize.js';
import { isPlain } from './where.js';

/** @internal */
export interface Column {
  attribute: string;
  field: string;
  norm: Norm | undefined;
}

/** @internal */
export interface ModelMeta {
  model: ModelLike;
  table: string;
  /** primary key attribute names */
  primaryKey: string[];
  /** every real (non-virtual) attribute by attribute name */
  columns: Map<string, Column>;
  /** attribute names usable in equality conjunctions */
  taggable: string[];
  /** column name -> attribute name */
  byField: Map<string, string>;
}

const metaCache = new WeakMap<object, Map<string, ModelMeta>>();

/**
 * The model a class stands for, identified by name: `Post.scope(…)`, `Post.unscoped()` and
 * `Post.schema(…)` are subclasses of the defined model, created afresh on every call.
 * @internal
 */
export function baseModel(model: ModelLike): ModelLike {
  const defined = model.sequelize?.models?.[model.name];
  if (defined && (defined === model || (model as { prototype?: unknown }).prototype instanceof (defined as unknown as new () => unknown))) return defined;
  return model;
}

/** @internal Metadata of a model (cached per defined model; refreshed when associations add attributes). */
export function metaOf(model: ModelLike): ModelMeta {
  const raw = model.rawAttributes;
  const table = tableOf(model);
  const signature = `${table}\u0000${Object.keys(raw).join(',')}\u0000${model.primaryKeyAttributes.join(',')}`;
  const base = baseModel(model);
  let byShape = metaCache.get(base);
  if (!byShape) metaCache.set(base, (byShape = new Map()));
  const cached = byShape.get(signature);
  if (cached) return cached;
  if (byShape.size > 16) byShape.clear(); // attributes redefined again and again: keep it bounded
  const columns = new Map<string, Column>();
  const byField = new Map<string, string>();
  const taggable: string[] = [];
  const virtual = model._virtualAttributes;
  const dialect = (model.sequelize as { getDialect?: () => string } | undefined)?.getDialect?.();
  for (const [attribute, def] of Object.entries(raw)) {
    if (typeKey(def.type) === 'VIRTUAL' || virtual?.has(attribute)) continue;
    const field = def.field ?? attribute;
    const norm = normOf(def, dialect);
    columns.set(attribute, { attribute, field, norm });
    byField.set(field, attribute);
    if (norm) taggable.push(attribute);
  }
  const meta: ModelMeta = { model: base, table, primaryKey: [...model.primaryKeyAttributes], columns, taggable, byField };
  byShape.set(signature, meta);
  return meta;
}

/** @internal The attribute a key names: an attribute name, or a column name that maps to one. */
export function attributeOf(meta: ModelMeta, key: string): string | undefined {
  if (meta.columns.has(key)) return key;
  return meta.byField.get(key);
}

/**
 * Builds the canonical `where` of an equality conjunction on `model`, throwing a
 * BadDependencyError that names the model, the field and the value when something cannot be
 * matched exactly.
 * @internal
 */
export function canonicalWhere(meta: ModelMeta, where: Record<string, unknown>, label: string): Record<string, WhereValue> {
  const out: Record<string, WhereValue> = {};
  const name = modelName(meta.model);
  const bad = (value: unknown, message: string) => new BadDependencyError(label, value, `${label}: ${message}`);
  for (const key of Reflect.ownKeys(where)) {
    if (typeof key === 'symbol') {
      throw bad(where, `operators such as ${String(key)} are not supported; matching() takes equality conditions (field: value) on ${name}`);
    }
    const value = where[key];
    const attribute = attributeOf(meta, key);
    if (attribute === undefined) {
      const known = [...meta.columns.keys()].join(', ');
      throw bad(key, `model ${name} has no field ${describeValue(key)} (its fields: ${known})`);
    }
    const column = meta.columns.get(attribute)!;
    if (value === undefined) throw bad(value, `field '${attribute}' of ${name} is undefined; use null to match NULL`);
    if (!column.norm) {
      throw bad(value, `field '${attribute}' of ${name} has type ${typeKey(meta.model.rawAttributes[attribute]?.type) ?? 'unknown'}, which cannot be used in an equality dependency`);
    }
    const normalized = normalizeValue(column.norm, value);
    if (normalized === NOT_NORMALIZABLE) {
      throw bad(value, `field '${attribute}' of ${name} cannot equal ${describeValue(value)} (column type ${typeKey(meta.model.rawAttributes[attribute]?.type)}); use a plain value of that type`);
    }
    if (attribute in out && !sameValue(out[attribute]!, normalized)) throw bad(value, `field '${attribute}' of ${name} is given twice with different values`);
    out[attribute] = normalized;
  }
  return out;
}

/**
 * A row image for invalidation: the taggable columns of `values` (attribute-keyed), normalized.
 * A column whose value is unknown (absent, a SQL expression, not normalizable) is left out, so
 * every scheme that needs it falls back to the table's any-row tag (conservative, never stale).
 * @internal
 */
export function rowImage(meta: ModelMeta, values: Record<string, unknown>, only?: ReadonlySet<string>): RowImage {
  const out: Record<string, WhereValue> = {};
  for (const attribute of meta.taggable) {
    if (only && !only.has(attribute)) continue;
    if (!Object.prototype.hasOwnProperty.call(values, attribute)) continue;
    const value = values[attribute];
    if (value === undefined) continue;
    const normalized = normalizeValue(meta.columns.get(attribute)!.norm!, value);
    if (normalized !== NOT_NORMALIZABLE) out[attribute] = normalized;
  }
  return { table: meta.table, values: out };
}

/**
 * Do two attribute-keyed records give `attribute` the same value, compared as the tags compare it
 * (normalized, then encoded)? Undefined when either value is unknown.
 * @internal
 */
export function sameColumnValue(meta: ModelMeta, attribute: string, a: Record<string, unknown>, b: Record<string, unknown>): boolean | undefined {
  const only = new Set([attribute]);
  const [x] = Object.values(encodeRow(rowImage(meta, a, only)).values);
  const [y] = Object.values(encodeRow(rowImage(meta, b, only)).values);
  return x === undefined || y === undefined ? undefined : x === y;
}

/** @internal Values of a raw query row keyed by attribute name (raw rows may be keyed by column name). */
export function byAttribute(meta: ModelMeta, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    const attribute = attributeOf(meta, key);
    if (attribute !== undefined && !(attribute in out && attribute !== key)) out[attribute] = value;
  }
  return out;
}

/** @internal The primary key values of an instance as stored (previous values if the key changed in memory). */
export function primaryKeyOf(instance: InstanceLike, meta: ModelMeta): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const previous = instance._previousDataValues ?? {};
  for (const attribute of meta.primaryKey) {
    const stored = instance.isNewRecord ? undefined : previous[attribute];
    out[attribute] = stored ?? instance.get(attribute, { raw: true });
  }
  return out;
}

/**
 * An instance's row as the database holds it before its pending change: the current values,
 * overridden by the previous ones of the attributes changed in memory.
 * @internal
 */
export function valuesBefore(instance: InstanceLike): Record<string, unknown> {
  const values = { ...instance.dataValues, ...(instance._previousDataValues ?? {}) };
  // What the database filled in stands for what the instance holds in its place (nothing, or the
  // SQL expression it was given).
  const filled = filledByDatabase.get(instance);
  if (filled) for (const [attribute, value] of Object.entries(filled)) if (!isPlain(values[attribute])) values[attribute] = value;
  return values;
}

/**
 * Column values the database filled in at an insert that the instance does not hold (no
 * RETURNING: defaults, expressions), read back once after the insert; they complete its later
 * old images.
 */
const filledByDatabase = new WeakMap<object, Record<string, unknown>>();

/** @internal Remembers what the database filled in for `instance` (see valuesBefore). */
export function rememberFilled(instance: InstanceLike, values: Record<string, unknown>): void {
  filledByDatabase.set(instance, values);
}

/** @internal The value a paranoid model's `deletedAt` takes back on restore: its default, else null. */
export function restoredValue(model: ModelLike, deletedAt: string): unknown {
  const def = model.rawAttributes[deletedAt] ?? {};
  return Object.prototype.hasOwnProperty.call(def, 'defaultValue') ? def.defaultValue : null;
}

/** @internal Drops key columns left empty for the database to generate (`id: null` in a built instance). */
export function withoutGeneratedKeys(meta: ModelMeta, values: Record<string, unknown>): Record<string, unknown> {
  const out = { ...values };
  for (const [attribute, def] of Object.entries(meta.model.rawAttributes)) {
    if ((def.autoIncrement || def.primaryKey) && (out[attribute] === null || out[attribute] === undefined)) delete out[attribute];
  }
  return out;
}
