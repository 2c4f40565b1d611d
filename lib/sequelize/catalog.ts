/**
 * The foreign keys the database declares, read from its catalog: the cascades of tables the
 * writing process does not model (another application's, a migration's) are seen too.
 *
 * Read once per Sequelize instance, lazily (the first cascading write waits for it), with its own
 * connection (`transaction: null`, so neither the write's transaction nor a CLS one), and kept
 * until a model is defined on the instance or `CATALOG_MAX_AGE` has passed: another process's
 * migration is seen by the next cascading write after that.
 * @internal
 */
import type { SequelizeLike } from './model.js';

/** @internal One declared foreign key; table names canonical (see `Catalog.local`). */
export interface ForeignKey {
  /** the referencing table */
  table: string;
  /** its referencing columns */
  columns: string[];
  /** the referenced table */
  references: string;
  /** the referenced columns; undefined: its primary key */
  keys: string[] | undefined;
  /** 'CASCADE', 'SET NULL', 'SET DEFAULT', 'RESTRICT', 'NO ACTION' */
  onDelete: string;
  onUpdate: string;
}

/** @internal */
export interface Catalog {
  /** referenced table -> the foreign keys referencing it */
  byReferenced: Map<string, ForeignKey[]>;
  /**
   * Schemas (databases on MariaDB) whose tables the code names without a prefix, as models
   * without a schema are: PostgreSQL's current schema and `public`, MariaDB's current database,
   * SQLite's `main`. Tables elsewhere are `schema.table`.
   */
  local: string[];
  /** false on a dialect whose catalog is not read: only the models' declarations are known */
  read: boolean;
  readAt: number;
  /** the models defined when it was read */
  models: string;
}

/** How long a catalog is trusted before the next cascading write reads it again. */
export const CATALOG_MAX_AGE = 60_000;

interface State {
  catalog?: Catalog;
  loading?: Promise<Catalog>;
}

const states = new WeakMap<object, State>();

type Query = (sql: string, options: Record<string, unknown>) => Promise<unknown>;

/** @internal */
export function dialectOf(sequelize: SequelizeLike): string {
  return (sequelize.getDialect?.() ?? sequelize.options?.dialect ?? '').toLowerCase();
}

/** Changes when a model is defined (or removed) on the instance. */
function modelsSignature(sequelize: SequelizeLike): string {
  return Object.keys(sequelize.models ?? {}).join('\u0000');
}

/** @internal The catalog of `sequelize` if it is read and still trusted, else undefined. */
export function freshCatalog(sequelize: SequelizeLike): Catalog | undefined {
  const catalog = states.get(sequelize)?.catalog;
  if (!catalog || Date.now() - catalog.readAt > CATALOG_MAX_AGE || catalog.models !== modelsSignature(sequelize)) return undefined;
  return catalog;
}

/** @internal The last catalog read for `sequelize`, however old (for widening when a new read fails). */
export function lastCatalog(sequelize: SequelizeLike): Catalog | undefined {
  return states.get(sequelize)?.catalog;
}

/** @internal Reads the catalog of `sequelize` (one read at a time per instance); rejects when it cannot. */
export function loadCatalog(sequelize: SequelizeLike): Promise<Catalog> {
  let state = states.get(sequelize);
  if (!state) states.set(sequelize, (state = {}));
  if (state.loading) return state.loading;
  const own = state;
  const models = modelsSignature(sequelize);
  const loading = readCatalog(sequelize, models).then((catalog) => {
    own.catalog = catalog;
    return catalog;
  });
  own.loading = loading;
  const done = () => {
    if (own.loading === loading) own.loading = undefined;
  };
  loading.then(done, done);
  return loading;
}

/** @internal The dialect names whose catalog is read. */
export function readsCatalog(dialect: string): boolean {
  return ['postgres', 'mariadb', 'mysql', 'sqlite'].includes(dialect);
}

async function readCatalog(sequelize: SequelizeLike, models: string): Promise<Catalog> {
  const dialect = dialectOf(sequelize);
  const query = (sql: string) => (sequelize as unknown as { query: Query }).query.call(
    sequelize,
    sql,
    // `transaction: null`: never the write's transaction, nor the one CLS would pick.
    { type: 'SELECT', raw: true, plain: false, transaction: null },
  ) as Promise<Array<Record<string, unknown>>>;
  const readAt = Date.now();
  if (!readsCatalog(dialect)) return { byReferenced: new Map(), local: [], read: false, readAt, models };
  let local: string[];
  let keys: ForeignKey[];
  if (dialect === 'postgres') ({ local, keys } = await readPostgres(query));
  else if (dialect === 'sqlite') ({ local, keys } = await readSqlite(query));
  else ({ local, keys } = await readMysql(query));
  const byReferenced = new Map<string, ForeignKey[]>();
  for (const key of keys) {
    let list = byReferenced.get(key.references);
    if (!list) byReferenced.set(key.references, (list = []));
    list.push(key);
  }
  return { byReferenced, local, read: true, readAt, models };
}

type Rows = (sql: string) => Promise<Array<Record<string, unknown>>>;

const name = (local: readonly string[], schema: string, table: string) => (local.includes(schema) ? table : `${schema}.${table}`);
const text = (value: unknown) => (value === null || value === undefined ? '' : String(value));

const PG_RULES: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/** Every foreign key of every user schema: another schema's table may cascade into ours. */
async function readPostgres(query: Rows): Promise<{ local: string[]; keys: ForeignKey[] }> {
  const columnsOf = (rel: string, list: string) => `ARRAY(SELECT a.attname::text FROM unnest(c.${list}) WITH ORDINALITY AS k(n, i) JOIN pg_attribute a ON a.attrelid = c.${rel} AND a.attnum = k.n ORDER BY k.i)`;
  const [row] = await query(`SELECT current_schema() AS "current", (SELECT coalesce(json_agg(json_build_object(
      'schema', ns.nspname, 'table', cl.relname, 'refSchema', rns.nspname, 'refTable', rcl.relname,
      'onDelete', c.confdeltype, 'onUpdate', c.confupdtype,
      'columns', ${columnsOf('conrelid', 'conkey')}, 'keys', ${columnsOf('confrelid', 'confkey')})), '[]'::json)
    FROM pg_constraint c
    JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace ns ON ns.oid = cl.relnamespace
    JOIN pg_class rcl ON rcl.oid = c.confrelid JOIN pg_namespace rns ON rns.oid = rcl.relnamespace
    WHERE c.contype = 'f' AND ns.nspname NOT IN ('pg_catalog', 'information_schema')) AS "keys"`);
  const current = text(row?.current);
  const local = current && current !== 'public' ? [current, 'public'] : ['public'];
  const raw = typeof row?.keys === 'string' ? JSON.parse(row.keys) as unknown : row?.keys;
  const keys: ForeignKey[] = [];
  for (const k of Array.isArray(raw) ? raw as Array<Record<string, unknown>> : []) {
    keys.push({
      table: name(local, text(k.schema), text(k.table)),
      columns: (k.columns as string[] | null) ?? [],
      references: name(local, text(k.refSchema), text(k.refTable)),
      keys: (k.keys as string[] | null) ?? undefined,
      onDelete: PG_RULES[text(k.onDelete)] ?? 'NO ACTION',
      onUpdate: PG_RULES[text(k.onUpdate)] ?? 'NO ACTION',
    });
  }
  return { local, keys };
}

/** The foreign keys of the current database, and those of other databases referencing it. */
async function readMysql(query: Rows): Promise<{ local: string[]; keys: ForeignKey[] }> {
  const [db] = await query('SELECT DATABASE() AS `current`');
  const current = text(db?.current);
  const local = current ? [current] : [];
  const rows = await query(`SELECT rc.CONSTRAINT_SCHEMA AS \`schema\`, rc.TABLE_NAME AS \`table\`, rc.CONSTRAINT_NAME AS \`name\`,
      rc.UNIQUE_CONSTRAINT_SCHEMA AS \`refSchema\`, rc.REFERENCED_TABLE_NAME AS \`refTable\`,
      rc.DELETE_RULE AS \`onDelete\`, rc.UPDATE_RULE AS \`onUpdate\`,
      k.COLUMN_NAME AS \`column\`, k.REFERENCED_COLUMN_NAME AS \`key\`
    FROM information_schema.REFERENTIAL_CONSTRAINTS rc
    JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA
      AND k.TABLE_NAME = rc.TABLE_NAME AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.REFERENCED_TABLE_NAME IS NOT NULL
    WHERE rc.CONSTRAINT_SCHEMA = DATABASE() OR rc.UNIQUE_CONSTRAINT_SCHEMA = DATABASE()
    ORDER BY rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION`);
  const byConstraint = new Map<string, ForeignKey>();
  for (const row of rows) {
    const id = `${text(row.schema)}\u0000${text(row.table)}\u0000${text(row.name)}`;
    let key = byConstraint.get(id);
    if (!key) {
      key = {
        table: name(local, text(row.schema), text(row.table)),
        columns: [],
        references: name(local, text(row.refSchema), text(row.refTable)),
        keys: [],
        onDelete: text(row.onDelete).toUpperCase(),
        onUpdate: text(row.onUpdate).toUpperCase(),
      };
      byConstraint.set(id, key);
    }
    key.columns.push(text(row.column));
    key.keys!.push(text(row.key));
  }
  return { local, keys: [...byConstraint.values()] };
}

/** `PRAGMA foreign_key_list` of every table of the main database. */
async function readSqlite(query: Rows): Promise<{ local: string[]; keys: ForeignKey[] }> {
  const rows = await query(`SELECT m.name AS "table", f.id AS "id", f."table" AS "refTable", f."from" AS "column", f."to" AS "key",
      f.on_delete AS "onDelete", f.on_update AS "onUpdate"
    FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f
    WHERE m.type = 'table'
    ORDER BY m.name, f.id, f.seq`);
  const byConstraint = new Map<string, ForeignKey>();
  for (const row of rows) {
    const id = `${text(row.table)}\u0000${text(row.id)}`;
    let key = byConstraint.get(id);
    if (!key) {
      // The referenced table as the DDL spells it: SQLite compares names without case (so do the cascades).
      key = { table: text(row.table), columns: [], references: text(row.refTable), keys: [], onDelete: text(row.onDelete).toUpperCase(), onUpdate: text(row.onUpdate).toUpperCase() };
      byConstraint.set(id, key);
    }
    key.columns.push(text(row.column));
    // No referenced column: the referenced table's primary key.
    if (row.key === null || row.key === undefined) key.keys = undefined;
    else key.keys?.push(text(row.key));
  }
  return { local: ['main'], keys: [...byConstraint.values()] };
}
