/**
 * Duck-typed view of Sequelize models and instances. Nothing here imports 'sequelize': the core
 * package loads without it, and models from any copy of sequelize 6 are recognised.
 *
 * Canonical forms shared by the dependency side (what an entry reads) and the invalidation side
 * (which rows a write changed), so the two always build the same tags:
 * - table: `Model.getTableName()` as a string, `schema.table` when the model has a schema;
 * - field: the attribute name (`authorId`), never the column name (`author_id`);
 * - value: normalized by the column type (see `normalizeValue`), so PostgreSQL's BIGINT strings,
 *   SQLite's 0/1 booleans and date strings meet the JS values users pass in.
 */
import { describe as describeValue, type RowImage, type WhereValue } from '../dependencies.js';

/* ------------------------------------------------------------------------------------------ */
/* Structural types (the subset of sequelize 6 we use)                                        */
/* ------------------------------------------------------------------------------------------ */

export interface AttributeLike {
  type?: unknown;
  field?: string;
  fieldName?: string;
  primaryKey?: boolean;
  autoIncrement?: boolean;
  defaultValue?: unknown;
  references?: { model?: unknown; key?: string } | string;
  onDelete?: string;
  onUpdate?: string;
}

export interface AssociationLike {
  associationType: string;
  as?: string;
  source: ModelLike;
  target: ModelLike;
  foreignKey: string;
  sourceKey?: string;
  targetKey?: string;
  scope?: Record<string, unknown>;
  through?: { model: ModelLike; scope?: Record<string, unknown> };
}

export interface ModelLike {
  (...args: never[]): unknown;
  readonly name: string;
  sequelize?: SequelizeLike;
  rawAttributes: Record<string, AttributeLike>;
  primaryKeyAttributes: string[];
  associations: Record<string, AssociationLike>;
  getTableName(): string | { tableName: string; schema?: string; delimiter?: string };
  unscoped(): ModelLike;
  findAll(options: Record<string, unknown>): Promise<Array<Record<string, unknown>>>;
  uniqueKeys?: Record<string, { fields: string[] }>;
  _indexes?: Array<{ unique?: boolean; fields?: Array<string | { name?: string; attribute?: string }>; where?: unknown }>;
  _timestampAttributes?: { createdAt?: string; updatedAt?: string; deletedAt?: string };
  _virtualAttributes?: Set<string>;
}

export interface InstanceLike {
  constructor: ModelLike;
  dataValues: Record<string, unknown>;
  _previousDataValues?: Record<string, unknown>;
  isNewRecord?: boolean;
  get(key: string, options?: { raw?: boolean }): unknown;
}

export interface TransactionLike {
  parent?: TransactionLike | null;
  finished?: string;
  afterCommit(fn: (transaction: TransactionLike) => unknown): void;
}

export interface SequelizeLike {
  constructor: { _cls?: { get(key: string): unknown } | null };
  models: Record<string, ModelLike>;
  options: { dialect?: string; hooks?: unknown };
  addHook(type: string, name: string, fn: (...args: never[]) => unknown): unknown;
  removeHook(type: string, name: string): unknown;
  getDialect?(): string;
}

/* ------------------------------------------------------------------------------------------ */
/* Recognition                                                                                */
/* ------------------------------------------------------------------------------------------ */

export function isModel(value: unknown): value is ModelLike {
  return typeof value === 'function'
    && typeof (value as Partial<ModelLike>).getTableName === 'function'
    && typeof (value as Partial<ModelLike>).rawAttributes === 'object'
    && (value as Partial<ModelLike>).rawAttributes !== null
    && Array.isArray((value as Partial<ModelLike>).primaryKeyAttributes);
}

export function isInstance(value: unknown): value is InstanceLike {
  return typeof value === 'object' && value !== null
    && isModel((value as { constructor?: unknown }).constructor)
    && typeof (value as Partial<InstanceLike>).dataValues === 'object'
    && typeof (value as Partial<InstanceLike>).get === 'function';
}

export function isSequelize(value: unknown): value is SequelizeLike {
  return typeof value === 'object' && value !== null
    && typeof (value as Partial<SequelizeLike>).addHook === 'function'
    && typeof (value as Partial<SequelizeLike>).removeHook === 'function'
    && typeof (value as Partial<SequelizeLike>).models === 'object'
    && typeof (value as { getQueryInterface?: unknown }).getQueryInterface === 'function';
}

/** The model's name for messages ("Post"); scoped subclasses keep their model's name. */
export const modelName = (model: ModelLike): string => model.name || '(anonymous model)';

export function describe(value: unknown): string {
  if (isModel(value)) return `model ${modelName(value)}`;
  if (isInstance(value)) {
    const model = value.constructor;
    const pk = model.primaryKeyAttributes.map((a) => `${a}=${describeValue(value.dataValues[a])}`).join(', ');
    return `${modelName(model)} instance (${pk || 'no primary key'})`;
  }
  return describeValue(value);
}

/* ------------------------------------------------------------------------------------------ */
/* Tables                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Canonical table name of a model: `table`, or `schema.table` when a schema is set. */
export function tableOf(model: ModelLike): string {
  return canonicalTable(model.getTableName());
}

/** Canonical name of a table reference: a string, `{ tableName, schema }`, or a model. */
export function canonicalTable(ref: unknown): string {
  if (typeof ref === 'string') return ref;
  if (isModel(ref)) return tableOf(ref);
  if (ref && typeof ref === 'object' && typeof (ref as { tableName?: unknown }).tableName === 'string') {
    const { tableName, schema } = ref as { tableName: string; schema?: string };
    return schema ? `${schema}.${tableName}` : tableName;
  }
  return String(ref);
}

/* ------------------------------------------------------------------------------------------ */
/* Column types and value normalization                                                       */
/* ------------------------------------------------------------------------------------------ */

/** How values of a column are compared; undefined = not usable in an equality conjunction. */
export type Norm = 'int' | 'float' | 'bool' | 'date' | 'dateonly' | 'string' | 'ci-string' | 'uuid' | 'blob';

const TYPE_NORMS: Record<string, Norm> = {
  INTEGER: 'int', BIGINT: 'int', SMALLINT: 'int', MEDIUMINT: 'int', TINYINT: 'int', INT: 'int',
  FLOAT: 'float', DOUBLE: 'float', 'DOUBLE PRECISION': 'float', REAL: 'float', DECIMAL: 'float', NUMERIC: 'float',
  BOOLEAN: 'bool', BOOL: 'bool',
  DATE: 'date', TIMESTAMP: 'date', TIMESTAMPTZ: 'date', DATETIME: 'date', NOW: 'date',
  DATEONLY: 'dateonly',
  STRING: 'string', TEXT: 'string', CHAR: 'string', VARCHAR: 'string', ENUM: 'string', TIME: 'string',
  INET: 'string', CIDR: 'string', MACADDR: 'string',
  CITEXT: 'ci-string',
  UUID: 'uuid', UUIDV1: 'uuid', UUIDV4: 'uuid',
  BLOB: 'blob', BYTEA: 'blob',
};

/** The type key of an attribute's type (`'INTEGER'`, `'STRING'`…), also for `type: 'VARCHAR(20)'`. */
export function typeKey(type: unknown): string | undefined {
  if (type === undefined || type === null) return undefined;
  if (typeof type === 'string') return /^\s*([A-Za-z ]+?)\s*(\(|$)/.exec(type)?.[1]?.toUpperCase();
  const t = type as { key?: unknown; constructor?: { key?: unknown } };
  if (typeof t.key === 'string') return t.key.toUpperCase();
  if (typeof t.constructor?.key === 'string') return t.constructor.key.toUpperCase();
  return undefined;
}

export function normOf(attribute: AttributeLike): Norm | undefined {
  const key = typeKey(attribute.type);
  return key === undefined ? undefined : TYPE_NORMS[key];
}

const INTEGER_TEXT = /^\s*[+-]?\d+\s*$/;
const NOT_NORMALIZABLE = Symbol('not normalizable');

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * Normalizes one column value so that equal database values always encode alike:
 * integers (number, bigint, '7') -> number (bigint beyond 2^53); floats and decimals ('1.50') ->
 * number; booleans (true, 1, '1', 't', 'true') -> boolean; dates (Date, ISO or SQLite strings,
 * epoch ms) -> Date; DATEONLY -> 'YYYY-MM-DD'; strings as they are (numbers -> decimal text);
 * CITEXT lower-cased; UUID lower-cased; blobs -> Buffer; null -> null.
 * Returns NOT_NORMALIZABLE for a value that the column cannot hold as an equality literal.
 */
function normalizeValue(norm: Norm, value: unknown): WhereValue | typeof NOT_NORMALIZABLE {
  if (value === null) return null;
  switch (norm) {
    case 'int': {
      if (typeof value === 'number') return Number.isNaN(value) ? NOT_NORMALIZABLE : value;
      if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
      if (typeof value === 'string' && INTEGER_TEXT.test(value)) {
        const big = BigInt(value.trim());
        return Number.isSafeInteger(Number(big)) ? Number(big) : big;
      }
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
      if (typeof value === 'boolean') return value ? 1 : 0;
      return NOT_NORMALIZABLE;
    }
    case 'float': {
      if (typeof value === 'number') return Number.isNaN(value) ? NOT_NORMALIZABLE : value;
      if (typeof value === 'bigint') return Number(value);
      if (typeof value === 'string' && value.trim() !== '') {
        const n = Number(value);
        return Number.isNaN(n) ? NOT_NORMALIZABLE : n;
      }
      return NOT_NORMALIZABLE;
    }
    case 'bool': {
      if (typeof value === 'boolean') return value;
      if (value === 1 || value === 1n) return true;
      if (value === 0 || value === 0n) return false;
      if (typeof value === 'string') {
        const v = value.trim().toLowerCase();
        if (v === '1' || v === 't' || v === 'true') return true;
        if (v === '0' || v === 'f' || v === 'false') return false;
      }
      return NOT_NORMALIZABLE;
    }
    case 'date': {
      let date: Date | undefined;
      if (value instanceof Date) date = value;
      else if (typeof value === 'string' && value.trim() !== '') date = new Date(value);
      else if (typeof value === 'number') date = new Date(value);
      if (!date || Number.isNaN(date.getTime())) return NOT_NORMALIZABLE;
      return date;
    }
    case 'dateonly': {
      if (typeof value === 'string') {
        const m = /^\s*(\d{4}-\d{2}-\d{2})/.exec(value);
        return m ? m[1]! : NOT_NORMALIZABLE;
      }
      if (value instanceof Date && !Number.isNaN(value.getTime())) {
        // Sequelize formats a Date for DATEONLY in local time (moment(value).format('YYYY-MM-DD')).
        return `${pad(value.getFullYear(), 4)}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
      }
      return NOT_NORMALIZABLE;
    }
    case 'string':
    case 'ci-string':
    case 'uuid': {
      let s: string;
      if (typeof value === 'string') s = value;
      else if (typeof value === 'number' && Number.isFinite(value)) s = String(value);
      else if (typeof value === 'bigint') s = value.toString();
      else return NOT_NORMALIZABLE;
      return norm === 'string' ? s : s.toLowerCase();
    }
    case 'blob': {
      if (value instanceof Uint8Array) return Buffer.from(value);
      if (typeof value === 'string') return Buffer.from(value);
      return NOT_NORMALIZABLE;
    }
    default:
      return NOT_NORMALIZABLE;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Per-model metadata                                                                         */
/* ------------------------------------------------------------------------------------------ */

export interface Column {
  attribute: string;
  field: string;
  norm: Norm | undefined;
}

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
 */
export function baseModel(model: ModelLike): ModelLike {
  const defined = model.sequelize?.models?.[model.name];
  if (defined && (defined === model || (model as { prototype?: unknown }).prototype instanceof (defined as unknown as new () => unknown))) return defined;
  return model;
}

/** Metadata of a model (cached per defined model; refreshed when associations add attributes). */
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
  for (const [attribute, def] of Object.entries(raw)) {
    if (typeKey(def.type) === 'VIRTUAL' || virtual?.has(attribute)) continue;
    const field = def.field ?? attribute;
    const norm = normOf(def);
    columns.set(attribute, { attribute, field, norm });
    byField.set(field, attribute);
    if (norm) taggable.push(attribute);
  }
  const meta: ModelMeta = { model: base, table, primaryKey: [...model.primaryKeyAttributes], columns, taggable, byField };
  byShape.set(signature, meta);
  return meta;
}

/** The attribute a key names: an attribute name, or a column name that maps to one. */
export function attributeOf(meta: ModelMeta, key: string): string | undefined {
  if (meta.columns.has(key)) return key;
  return meta.byField.get(key);
}

/**
 * Builds the canonical `where` of an equality conjunction on `model`, throwing a TypeError that
 * names the model, the field and the value when something cannot be matched exactly.
 */
export function canonicalWhere(meta: ModelMeta, where: Record<string, unknown>, label: string): Record<string, WhereValue> {
  const out: Record<string, WhereValue> = {};
  const name = modelName(meta.model);
  for (const key of Reflect.ownKeys(where)) {
    if (typeof key === 'symbol') {
      throw new TypeError(`${label}: operators such as ${String(key)} are not supported; matching() takes equality conditions (field: value) on ${name}`);
    }
    const value = where[key];
    const attribute = attributeOf(meta, key);
    if (attribute === undefined) {
      const known = [...meta.columns.keys()].join(', ');
      throw new TypeError(`${label}: model ${name} has no field ${describeValue(key)} (its fields: ${known})`);
    }
    const column = meta.columns.get(attribute)!;
    if (value === undefined) {
      throw new TypeError(`${label}: field '${attribute}' of ${name} is undefined; use null to match NULL`);
    }
    if (!column.norm) {
      throw new TypeError(`${label}: field '${attribute}' of ${name} has type ${typeKey(meta.model.rawAttributes[attribute]?.type) ?? 'unknown'}, which cannot be used in an equality dependency`);
    }
    const normalized = normalizeValue(column.norm, value);
    if (normalized === NOT_NORMALIZABLE) {
      throw new TypeError(`${label}: field '${attribute}' of ${name} cannot equal ${describeValue(value)} (column type ${typeKey(meta.model.rawAttributes[attribute]?.type)}); use a plain value of that type`);
    }
    if (attribute in out && !sameValue(out[attribute]!, normalized)) {
      throw new TypeError(`${label}: field '${attribute}' of ${name} is given twice with different values`);
    }
    out[attribute] = normalized;
  }
  return out;
}

function sameValue(a: WhereValue, b: WhereValue): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  return a === b;
}

/**
 * A row image for invalidation: the taggable columns of `values` (attribute-keyed), normalized.
 * A column whose value is unknown (absent, a SQL expression, not normalizable) is left out, so
 * every scheme that needs it falls back to the table's any-row tag (conservative, never stale).
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

/** Values of a raw query row keyed by attribute name (raw rows may be keyed by column name). */
export function byAttribute(meta: ModelMeta, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    const attribute = attributeOf(meta, key);
    if (attribute !== undefined && !(attribute in out && attribute !== key)) out[attribute] = value;
  }
  return out;
}

/** The primary key values of an instance as stored (previous values if the key changed in memory). */
export function primaryKeyOf(instance: InstanceLike, meta: ModelMeta): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const previous = instance._previousDataValues ?? {};
  for (const attribute of meta.primaryKey) {
    const stored = instance.isNewRecord ? undefined : previous[attribute];
    out[attribute] = stored ?? instance.get(attribute, { raw: true });
  }
  return out;
}

export { NOT_NORMALIZABLE, normalizeValue };
