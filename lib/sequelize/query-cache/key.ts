/**
 * The cache key of a finder call: one stable string per (database, model, finder, arguments,
 * normalised options, scope). Options are written out canonically (object keys sorted, operators
 * by name, models by name and scope, SQL expressions by their parts) and hashed, so the key never
 * shows a value, and two calls share an entry only if every option that shapes the result agrees.
 * @internal
 */
import { createHash } from 'node:crypto';
import { isModel, modelName, type ModelLike } from '../model.js';

/** Options that do not change the result: they stay out of the key. */
const IGNORED = new Set(['transaction', 'logging', 'benchmark', 'cache', 'useMaster']);

/** Classes of sequelize's SQL expressions (`literal`, `fn`, `col`, `cast`, `where`, `json`). */
const SQL_EXPRESSIONS = new Set(['Literal', 'Fn', 'Col', 'Cast', 'Where', 'Json', 'SequelizeMethod']);

/** Something in the options that cannot be written out stably: the call is not cached. */
export class UnkeyableOption extends Error {
  constructor(readonly path: string) {
    super(`option ${path} cannot be part of a cache key`);
  }
}

const isAssociation = (value: object): value is { source: ModelLike; as: string; associationType: string } =>
  typeof (value as { associationType?: unknown }).associationType === 'string' && isModel((value as { source?: unknown }).source);

/** A model as the key names it: its name and table, and the scope a scoped subclass carries. */
function modelPart(model: ModelLike, path: string): unknown[] {
  const scoped = model as unknown as { _scope?: unknown; _scopeNames?: unknown };
  return ['M', modelName(model), model.getTableName(), canonical(scoped._scope ?? {}, `${path}._scope`), canonical(scoped._scopeNames ?? [], `${path}._scopeNames`)];
}

/**
 * Writes a value out as nested arrays of primitives, identical for equal options. Keys of plain
 * objects are sorted; symbols (Sequelize's operators) go by name.
 */
export function canonical(value: unknown, path = 'options'): unknown {
  if (path.length > 2000) throw new UnkeyableOption(`${path.slice(0, 60)}…`); // scopes that include each other
  switch (typeof value) {
    case 'undefined': return ['U'];
    case 'string': case 'boolean': return value;
    case 'number': return Number.isFinite(value) ? value : ['F', String(value)];
    case 'bigint': return ['N', value.toString()];
    case 'symbol': return ['S', Symbol.keyFor(value) ?? value.description ?? ''];
    case 'function':
      if (isModel(value)) return modelPart(value, path);
      throw new UnkeyableOption(path);
    default: break;
  }
  if (value === null) return null;
  const object = value as object;
  if (object instanceof Date) return ['D', object.getTime()];
  if (object instanceof Uint8Array) return ['B', Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64')];
  if (Array.isArray(object)) return ['A', ...object.map((item, i) => canonical(item, `${path}[${i}]`))];
  if (isAssociation(object)) return ['As', modelName(object.source), object.as];
  const proto = Object.getPrototypeOf(object);
  const className = (proto?.constructor as { name?: string } | undefined)?.name ?? '';
  if (proto === Object.prototype || proto === null || SQL_EXPRESSIONS.has(className)) return canonicalObject(object, path, proto === Object.prototype || proto === null ? 'O' : className);
  if (object instanceof Error) return ['E', className, object.message];
  throw new UnkeyableOption(path);
}

function canonicalObject(object: object, path: string, label: string): unknown[] {
  const record = object as Record<string | symbol, unknown>;
  const entries: Array<[string, unknown]> = [];
  for (const key of Object.keys(record)) {
    if (record[key] !== undefined) entries.push([`s:${key}`, canonical(record[key], `${path}.${key}`)]);
  }
  for (const symbol of Object.getOwnPropertySymbols(record)) {
    const name = Symbol.keyFor(symbol) ?? symbol.description ?? '';
    entries.push([`o:${name}`, canonical(record[symbol], `${path}[${name}]`)]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return [label, ...entries.flat()];
}

/** What the key is computed from, besides the options. */
export interface KeyParts {
  model: ModelLike;
  finder: string;
  /** the finder's leading arguments (findByPk's key, an aggregate's field) */
  args: unknown[];
  options: Record<string, unknown>;
}

/** Where a model's rows live: the key of one database never serves another. */
function databaseOf(model: ModelLike): unknown[] {
  type Config = { host?: unknown; port?: unknown; database?: unknown; username?: unknown };
  const s = model.sequelize as unknown as { getDialect?: () => string; config?: Config; options?: { storage?: unknown } } | undefined;
  const c = s?.config ?? {};
  return [s?.getDialect?.() ?? '', String(c.host ?? ''), String(c.port ?? ''), String(c.database ?? ''), String(c.username ?? ''), String(s?.options?.storage ?? '')];
}

/** The attributes a model has: a redefined model never reads entries cached under the old one. */
const shapes = new WeakMap<object, string>();
function shapeOf(model: ModelLike): string {
  let shape = shapes.get(model);
  if (shape === undefined) {
    shape = `${Object.keys(model.rawAttributes).join(',')}|${model.primaryKeyAttributes.join(',')}`;
    shapes.set(model, shape);
  }
  return shape;
}

/** The payload format: bump it when hydration changes, so old entries are never read. */
const FORMAT = 1;

/**
 * `q:<Model>:<finder>:<hash>`; the model and finder names help in `entriesFor()` listings, the
 * hash hides every value. Throws UnkeyableOption when an option cannot be written out.
 */
export function cacheKey({ model, finder, args, options }: KeyParts): string {
  const kept: Record<string, unknown> = {};
  for (const name of Object.keys(options)) if (!IGNORED.has(name)) kept[name] = options[name];
  const material = JSON.stringify([FORMAT, databaseOf(model), shapeOf(model), modelPart(model, 'model'), finder, canonical(args, 'arguments'), canonical(kept)]);
  const hash = createHash('sha256').update(material).digest('base64url');
  return `q:${modelName(model)}:${finder}:${hash}`;
}
