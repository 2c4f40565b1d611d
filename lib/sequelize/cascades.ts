/**
 * Foreign-key cascades: the tables the database changes on its own (ON DELETE / ON UPDATE
 * CASCADE, SET NULL, SET DEFAULT; TRUNCATE … CASCADE) when rows of a table are deleted, truncated
 * or have a referenced key changed, read from the foreign keys the models declare.
 * @internal
 */
import { attributeOf, sameColumnValue, type ModelMeta } from './meta.js';
import { canonicalTable, isModel, tableOf, type AttributeLike, type ModelLike, type SequelizeLike } from './model.js';

/** @internal What happened to the rows of a referenced table. */
export type CascadeAction = 'delete' | 'truncate' | 'update';

const CASCADING_ACTIONS = new Set(['CASCADE', 'SET NULL', 'SET DEFAULT']);

interface Reference {
  model: ModelLike;
  def: AttributeLike;
  /** the referenced column; undefined: the referenced table's primary key */
  key: string | undefined;
}

/** Models of `sequelize` whose foreign keys reference `table`. */
function referencing(sequelize: SequelizeLike, table: string): Reference[] {
  const out: Reference[] = [];
  for (const model of Object.values(sequelize.models ?? {})) {
    if (!isModel(model)) continue;
    for (const def of Object.values(model.rawAttributes)) {
      const ref = def.references;
      if (!ref) continue;
      const target = typeof ref === 'string' ? ref : ref.model;
      if (target === undefined || canonicalTable(target) !== table) continue;
      out.push({ model, def, key: typeof ref === 'string' ? undefined : ref.key });
    }
  }
  return out;
}

/**
 * Tables the database changes by itself when rows of `table` are deleted / truncated with
 * CASCADE / have a referenced key changed (`changedKeys`: column names, undefined = unknown).
 * @internal
 */
export function cascadeTables(sequelize: SequelizeLike, table: string, action: CascadeAction, changedKeys?: Set<string>): Set<string> {
  const out = new Set<string>();
  const visit = (t: string, act: CascadeAction, keys?: Set<string>) => {
    for (const { model, def, key } of referencing(sequelize, t)) {
      const child = tableOf(model);
      let hit = false;
      let childAction: CascadeAction | undefined;
      if (act === 'truncate') {
        hit = true;
        childAction = 'truncate';
      } else if (act === 'delete') {
        const rule = (def.onDelete ?? '').toUpperCase();
        hit = CASCADING_ACTIONS.has(rule);
        childAction = rule === 'CASCADE' ? 'delete' : 'update';
      } else {
        const rule = (def.onUpdate ?? '').toUpperCase();
        hit = CASCADING_ACTIONS.has(rule) && (keys === undefined || key === undefined || keys.has(key));
        childAction = 'update';
      }
      if (!hit || out.has(child)) continue;
      out.add(child);
      // The child's rows changed: their own referencing rows may cascade further.
      visit(child, childAction, childAction === 'update' ? new Set([def.field ?? '']) : undefined);
    }
  };
  visit(table, action, changedKeys);
  // `table` stays in when a foreign key of its own (a parent/child tree) or a cycle reaches it:
  // rows other than the written ones changed with it, and which is not known.
  return out;
}

/** Referenced columns whose value differs between an old and a new image (undefined = unknown). */
function changedReferencedColumns(sequelize: SequelizeLike, meta: ModelMeta, pairs: ReadonlyArray<[Record<string, unknown>, Record<string, unknown>]>): Set<string> | undefined {
  const referenced = referencing(sequelize, meta.table);
  if (referenced.length === 0) return new Set();
  const changed = new Set<string>();
  for (const { key } of referenced) {
    const attribute = key === undefined ? meta.primaryKey[0] : attributeOf(meta, key);
    if (attribute === undefined) return undefined;
    const field = meta.columns.get(attribute)?.field ?? attribute;
    for (const [before, after] of pairs) {
      if (!(attribute in after)) continue; // not written
      if (sameColumnValue(meta, attribute, before, after) !== true) changed.add(field);
    }
  }
  return changed;
}

/**
 * Tables an update of rows of `meta`'s table changes through ON UPDATE rules: only when it
 * changes a referenced column (`pairs`: the rows before and after; none: nothing was updated).
 * @internal
 */
export function updateCascades(sequelize: SequelizeLike, meta: ModelMeta, pairs: ReadonlyArray<[Record<string, unknown>, Record<string, unknown>]>): Set<string> {
  if (pairs.length === 0) return new Set();
  const changed = changedReferencedColumns(sequelize, meta, pairs);
  return changed === undefined || changed.size > 0 ? cascadeTables(sequelize, meta.table, 'update', changed) : new Set();
}
