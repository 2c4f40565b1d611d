/**
 * Duck-typed view of Sequelize models and instances. Nothing here imports 'sequelize': the core
 * package loads without it, and models from any copy of sequelize 6 are recognised.
 *
 * Canonical forms shared by the dependency side (what an entry reads) and the invalidation side
 * (which rows a write changed), so the two always build the same tags:
 * - table: `Model.getTableName()` as a string, `schema.table` when the model has a schema;
 * - field: the attribute name (`authorId`), never the column name (`author_id`);
 * - value: normalized by the column type (see `normalizeValue` in normalize.ts), so PostgreSQL's
 *   BIGINT strings, SQLite's 0/1 booleans and date strings meet the JS values users pass in.
 */
import { InvalidOptionError } from '../errors.js';
import { describe as describeValue } from '../dependencies.js';

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

/** @internal */
export interface TransactionLike {
  parent?: TransactionLike | null;
  finished?: string;
  sequelize?: SequelizeLike;
  options?: { isolationLevel?: string | null };
  afterCommit(fn: (transaction: TransactionLike) => unknown): void;
}

export interface SequelizeLike {
  constructor: { _cls?: { get(key: string): unknown } | null };
  models: Record<string, ModelLike>;
  options?: { dialect?: string; hooks?: unknown };
  addHook(type: string, name: string, fn: (...args: never[]) => unknown): unknown;
  removeHook(type: string, name: string): unknown;
  getDialect?(): string;
}

/**
 * The options object Sequelize hands a hook (the write's own options, shared by its before and
 * after hooks).
 * @internal
 */
export type HookOptions = Record<string, unknown> & { transaction?: TransactionLike | null; model?: unknown };

/* ------------------------------------------------------------------------------------------ */
/* Recognition                                                                                */
/* ------------------------------------------------------------------------------------------ */

/** @internal */
export function isModel(value: unknown): value is ModelLike {
  return typeof value === 'function'
    && typeof (value as Partial<ModelLike>).getTableName === 'function'
    && typeof (value as Partial<ModelLike>).rawAttributes === 'object'
    && (value as Partial<ModelLike>).rawAttributes !== null
    && Array.isArray((value as Partial<ModelLike>).primaryKeyAttributes);
}

/** @internal */
export function isInstance(value: unknown): value is InstanceLike {
  return typeof value === 'object' && value !== null
    && isModel((value as { constructor?: unknown }).constructor)
    && typeof (value as Partial<InstanceLike>).dataValues === 'object'
    && typeof (value as Partial<InstanceLike>).get === 'function';
}

/** @internal */
export function isSequelize(value: unknown): value is SequelizeLike {
  return typeof value === 'object' && value !== null
    && typeof (value as Partial<SequelizeLike>).addHook === 'function'
    && typeof (value as Partial<SequelizeLike>).removeHook === 'function'
    && typeof (value as Partial<SequelizeLike>).models === 'object'
    && typeof (value as { getQueryInterface?: unknown }).getQueryInterface === 'function';
}

/**
 * The model's name for messages ("Post"); scoped subclasses keep their model's name.
 * @internal
 */
export const modelName = (model: ModelLike): string => model.name || '(anonymous model)';

/** @internal A value for an error message: models and instances by name and primary key. */
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

/**
 * Canonical table name of a Sequelize model: `table`, or `schema.table` when a schema is set
 * (the name the hooks and `matching()` use for it). InvalidOptionError for anything else.
 */
export function tableOf(model: object): string {
  if (!isModel(model)) throw new InvalidOptionError('model', model, `tableOf(): expected a Sequelize model, got ${describe(model)}`);
  return canonicalTable(model.getTableName());
}

/**
 * Canonical name of a table reference: a string, `{ tableName, schema }`, or a model.
 * @internal
 */
export function canonicalTable(ref: unknown): string {
  if (typeof ref === 'string') return ref;
  if (isModel(ref)) return tableOf(ref);
  if (ref && typeof ref === 'object' && typeof (ref as { tableName?: unknown }).tableName === 'string') {
    const { tableName, schema } = ref as { tableName: string; schema?: string };
    return schema ? `${schema}.${tableName}` : tableName;
  }
  return String(ref);
}
