/**
 * Foreign-key cascades: the tables the database changes on its own (ON DELETE / ON UPDATE
 * CASCADE, SET NULL, SET DEFAULT; TRUNCATE … CASCADE) when rows of a table are deleted, truncated
 * or have a referenced key changed. Read from the foreign keys the models declare and from those
 * the database declares (its catalog, see catalog.ts), so that a table only another application
 * models is reached too.
 * @internal
 */
import { ForeignKeyCatalogError } from '../errors.js';
import { dialectOf, freshCatalog, lastCatalog, loadCatalog, type Catalog, type ForeignKey } from './catalog.js';
import { attributeOf, sameColumnValue, type ModelMeta } from './meta.js';
import { CATALOG_WAIT, withDeadline } from './deadline.js';
import { canonicalTable, isModel, tableOf, type ModelLike, type SequelizeLike } from './model.js';

/** @internal What happened to the rows of a referenced table. */
export type CascadeAction = 'delete' | 'truncate' | 'update';

const CASCADING_ACTIONS = new Set(['CASCADE', 'SET NULL', 'SET DEFAULT']);

/** @internal What the walk knows besides the models. */
export interface Known {
  catalog?: Catalog;
  /** the catalog could not be read: every referencing table counts, whatever its rules */
  widen?: boolean;
}

/** One foreign key as the walk sees it. */
interface Reference {
  /** the referencing table: its key in the walk and its canonical name */
  child: string;
  name: string;
  /** its referencing columns */
  from: string[];
  /** the referenced columns; undefined: the referenced table's primary key */
  to: string[] | undefined;
  onDelete: string;
  onUpdate: string;
}

const foldedIndex = new WeakMap<Catalog, Map<string, ForeignKey[]>>();

/**
 * The tables of one walk: one key per table, however the models and the catalog name it
 * (`public.posts` and `posts` on PostgreSQL; any case on SQLite), and back to every name the
 * entries may use for it.
 */
class Tables {
  private readonly local: Set<string>;
  private readonly fold: boolean;
  private readonly models: ModelLike[];
  /** key -> the names the models give that table */
  readonly modelNames = new Map<string, Set<string>>();
  private readonly declared: Map<string, ForeignKey[]>;

  constructor(sequelize: SequelizeLike, readonly catalog: Catalog | undefined) {
    const dialect = dialectOf(sequelize);
    this.local = new Set(catalog?.local ?? (dialect === 'postgres' ? ['public'] : dialect === 'sqlite' ? ['main'] : []));
    this.fold = dialect === 'sqlite';
    this.models = Object.values(sequelize.models ?? {}).filter(isModel);
    for (const model of this.models) {
      const name = tableOf(model);
      const key = this.key(name);
      let names = this.modelNames.get(key);
      if (!names) this.modelNames.set(key, (names = new Set()));
      names.add(name);
    }
    this.declared = catalog ? this.index(catalog) : new Map();
  }

  key(name: string): string {
    const dot = name.indexOf('.');
    const plain = dot > 0 && this.local.has(name.slice(0, dot)) ? name.slice(dot + 1) : name;
    return this.fold ? plain.toLowerCase() : plain;
  }

  /** The catalog's foreign keys by referenced table key (built once per catalog). */
  private index(catalog: Catalog): Map<string, ForeignKey[]> {
    let byKey = foldedIndex.get(catalog);
    if (byKey) return byKey;
    byKey = new Map();
    for (const [table, keys] of catalog.byReferenced) {
      const key = this.key(table);
      const list = byKey.get(key);
      if (list) for (const k of keys) list.push(k);
      else byKey.set(key, keys.slice());
    }
    foldedIndex.set(catalog, byKey);
    return byKey;
  }

  /** The foreign keys referencing the table `key`: the models' and the database's. */
  referencing(key: string): Reference[] {
    const out: Reference[] = [];
    for (const model of this.models) {
      for (const [attribute, def] of Object.entries(model.rawAttributes)) {
        const ref = def.references;
        if (!ref) continue;
        const target = typeof ref === 'string' ? ref : ref.model;
        if (target === undefined || this.key(canonicalTable(target)) !== key) continue;
        const name = tableOf(model);
        out.push({
          child: this.key(name), name, from: [def.field ?? attribute],
          to: typeof ref === 'string' || ref.key === undefined ? undefined : [ref.key],
          onDelete: (def.onDelete ?? '').toUpperCase(), onUpdate: (def.onUpdate ?? '').toUpperCase(),
        });
      }
    }
    for (const fk of this.declared.get(key) ?? []) {
      out.push({ child: this.key(fk.table), name: fk.table, from: fk.columns, to: fk.keys, onDelete: fk.onDelete, onUpdate: fk.onUpdate });
    }
    return out;
  }

  /** Every name the entries may use for the table of `ref`. */
  namesOf(ref: Reference): Iterable<string> {
    const names = new Set(this.modelNames.get(ref.child));
    names.add(ref.name);
    return names;
  }
}

function walk(tables: Tables, table: string, action: CascadeAction, changedKeys: Set<string> | undefined): Set<string> {
  const out = new Set<string>();
  // A table is walked again only for another action or other changed columns: a second foreign
  // key of the same child may cascade further than the first.
  const seen = new Set<string>();
  const visit = (t: string, act: CascadeAction, keys?: Set<string>) => {
    for (const ref of tables.referencing(t)) {
      let hit = false;
      let childAction: CascadeAction;
      if (act === 'truncate') {
        hit = true;
        childAction = 'truncate';
      } else if (act === 'delete') {
        hit = CASCADING_ACTIONS.has(ref.onDelete);
        childAction = ref.onDelete === 'CASCADE' ? 'delete' : 'update';
      } else {
        hit = CASCADING_ACTIONS.has(ref.onUpdate) && (keys === undefined || ref.to === undefined || ref.to.some((k) => keys.has(k)));
        childAction = 'update';
      }
      if (!hit) continue;
      for (const name of tables.namesOf(ref)) out.add(name);
      const step = `${ref.child}\u0000${childAction}\u0000${childAction === 'update' ? ref.from.join('\u0000') : ''}`;
      if (seen.has(step)) continue;
      seen.add(step);
      // The child's rows changed: their own referencing rows may cascade further.
      visit(ref.child, childAction, childAction === 'update' ? new Set(ref.from) : undefined);
    }
  };
  visit(tables.key(table), action, changedKeys);
  // `table` stays in when a foreign key of its own (a parent/child tree) or a cycle reaches it:
  // rows other than the written ones changed with it, and which is not known.
  return out;
}

/**
 * Tables the database changes by itself when rows of `table` are deleted / truncated with
 * CASCADE / have a referenced key changed (`changedKeys`: column names, undefined = unknown).
 * Widened (`known.widen`): every table referencing it, whatever the rules, through the last
 * catalog read; with none, also every table the models map.
 * @internal
 */
export function cascadeTables(sequelize: SequelizeLike, table: string, action: CascadeAction, changedKeys?: Set<string>, known: Known = {}): Set<string> {
  const catalog = known.catalog ?? (known.widen ? lastCatalog(sequelize) : undefined);
  const tables = new Tables(sequelize, catalog);
  // TRUNCATE … CASCADE reaches every referencing table, whatever its rules.
  const out = walk(tables, table, known.widen ? 'truncate' : action, known.widen ? undefined : changedKeys);
  if (known.widen && !catalog?.read) for (const names of tables.modelNames.values()) for (const name of names) out.add(name);
  return out;
}

/** Referenced columns whose value differs between an old and a new image (undefined = unknown). */
function changedReferencedColumns(tables: Tables, meta: ModelMeta, pairs: ReadonlyArray<[Record<string, unknown>, Record<string, unknown>]>): Set<string> | undefined {
  const referenced = tables.referencing(tables.key(meta.table));
  if (referenced.length === 0) return new Set();
  const changed = new Set<string>();
  for (const { to } of referenced) {
    const keys = to ?? meta.primaryKey;
    if (keys.length === 0) return undefined;
    for (const key of keys) {
      const attribute = attributeOf(meta, key);
      if (attribute === undefined) return undefined;
      const field = meta.columns.get(attribute)?.field ?? attribute;
      for (const [before, after] of pairs) {
        if (!(attribute in after)) continue; // not written
        if (sameColumnValue(meta, attribute, before, after) !== true) changed.add(field);
      }
    }
  }
  return changed;
}

/**
 * Tables an update of rows of `meta`'s table changes through ON UPDATE rules: only when it
 * changes a referenced column (`pairs`: the rows before and after; none: nothing was updated).
 * @internal
 */
export function updateCascades(sequelize: SequelizeLike, meta: ModelMeta, pairs: ReadonlyArray<[Record<string, unknown>, Record<string, unknown>]>, known: Known = {}): Set<string> {
  if (pairs.length === 0) return new Set();
  if (known.widen) return cascadeTables(sequelize, meta.table, 'update', undefined, known);
  const tables = new Tables(sequelize, known.catalog);
  const changed = changedReferencedColumns(tables, meta, pairs);
  return changed === undefined || changed.size > 0 ? walk(tables, meta.table, 'update', changed) : new Set();
}

/**
 * The cascades of one registration's writes. Until the catalog of its Sequelize instance is read,
 * a walk gives what the models declare and waits in `waiting`; the write's `record()` takes it
 * with `settle()`, which reads the catalog (once per instance) and completes it. A caller records
 * its change in the same synchronous step as the walk (no await between), so that what `settle()`
 * takes is its own.
 * @internal
 */
export class Cascades {
  private waiting: Array<(known: Known) => Set<string>> = [];

  constructor(private readonly owner: { readonly sequelize: SequelizeLike; emitError(error: unknown): void }) {}

  /** Tables a cascade changes along with `table` (what the models declare, until the catalog is read). */
  tables(table: string, action: CascadeAction): Set<string> {
    return this.walk((known) => cascadeTables(this.owner.sequelize, table, action, undefined, known));
  }

  /** Tables an update changes through ON UPDATE rules (`pairs`: rows before and after). */
  update(meta: ModelMeta, pairs: ReadonlyArray<[Record<string, unknown>, Record<string, unknown>]>): Set<string> {
    if (pairs.length === 0) return new Set();
    return this.walk((known) => updateCascades(this.owner.sequelize, meta, pairs, known));
  }

  private walk(run: (known: Known) => Set<string>): Set<string> {
    const catalog = freshCatalog(this.owner.sequelize);
    if (catalog) return run({ catalog });
    this.waiting.push(run);
    return run({});
  }

  /**
   * The tables the walks made since the last call add once the catalog is read; undefined when
   * none waits. A catalog that cannot be read is emitted as a ForeignKeyCatalogError and the
   * walks are widened.
   */
  settle(): Promise<Set<string>> | undefined {
    if (this.waiting.length === 0) return undefined;
    const runs = this.waiting;
    this.waiting = [];
    return this.complete(runs);
  }

  private async complete(runs: Array<(known: Known) => Set<string>>): Promise<Set<string>> {
    let known: Known;
    try {
      known = { catalog: await withDeadline(loadCatalog(this.owner.sequelize), CATALOG_WAIT) };
    } catch (error) {
      this.owner.emitError(new ForeignKeyCatalogError(dialectOf(this.owner.sequelize), { cause: error }));
      known = { widen: true };
    }
    const out = new Set<string>();
    for (const run of runs) for (const table of run(known)) out.add(table);
    return out;
  }
}
