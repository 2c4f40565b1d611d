/**
 * The afterQuery safety net: writes that reach the database without the model hooks
 * (increment/decrement, `hooks: false`, queryInterface.bulk*, raw SQL) invalidate the whole tables
 * they write, and those their foreign keys cascade to; a write whose SQL cannot be read
 * invalidates every table of the models.
 * @internal
 */
import { logger } from '../../log.js';
import { isInstance, isModel, tableOf, type HookOptions, type SequelizeLike } from '../model.js';
import { readWrites } from '../sql.js';
import type { WriteContext } from './context.js';

const log = logger('sequelize');

const WRITE_TYPES = new Set(['INSERT', 'UPDATE', 'BULKUPDATE', 'BULKDELETE', 'DELETE', 'UPSERT']);

/** @internal The safety net: writes the model hooks did not see. */
export async function afterQuery(ctx: WriteContext, options: HookOptions, query: { sql?: unknown } | undefined): Promise<void> {
  if (!ctx.options.safetyNet || !options) return;
  const instance = options.instance;
  const model = isModel(options.model) ? options.model : isInstance(instance) ? instance.constructor : undefined;
  if (instance && typeof instance === 'object' && ctx.covered.has(instance)) {
    // The query of an instance destroy / restore / row-by-row update: our instance hooks cover
    // it (a paranoid destroy and a restore save with hooks off). One query consumes the mark.
    ctx.covered.delete(instance);
    return;
  }
  if (model && options.hooks === true) return; // the model hooks saw it
  const sql = typeof query?.sql === 'string' ? query.sql : '';
  const tables = new Set<string>();
  const add = (table: string, action: 'delete' | 'truncate' | 'update' | undefined) => {
    tables.add(table);
    if (action) for (const t of ctx.cascadeTables(table, action)) tables.add(t);
  };
  const type = typeof options.type === 'string' ? options.type.toUpperCase() : '';
  if (model && WRITE_TYPES.has(type)) {
    add(tableOf(model), type === 'DELETE' || type === 'BULKDELETE' ? 'delete' : type === 'INSERT' ? undefined : 'update');
  }
  if (model || ctx.options.rawQueries) {
    let read: ReturnType<typeof readWrites>;
    try {
      read = readWrites(sql, ctx.dialect());
    } catch (error) {
      // Never thrown into the user's query: a failure to read is a failure to see.
      read = { tables: [], unreadable: `reading it failed (${error instanceof Error ? error.message : String(error)})` };
    }
    for (const written of read.tables) {
      const table = resolveTable(ctx.sequelize, written.name);
      if (written.action === 'delete' || written.action === 'truncate' || written.action === 'drop') {
        add(table, written.action === 'truncate' && written.cascade ? 'truncate' : 'delete');
      } else {
        add(table, written.action === 'update' ? 'update' : undefined);
      }
    }
    if (read.unreadable !== undefined) {
      // It may write any table: widen to every table the models map rather than guess.
      const all = Object.values(ctx.sequelize.models ?? {}).filter(isModel).map((m) => tableOf(m));
      for (const table of all) tables.add(table);
      log('could not tell which tables %j writes: %s; invalidating every table of the models (%d)', sql.length > 200 ? `${sql.slice(0, 200)}…` : sql, read.unreadable, all.length);
    }
  }
  if (tables.size > 0) await ctx.record({ tables }, options);
}

/** @internal Maps a table name read from SQL to the canonical name of the model on it, if any. */
export function resolveTable(sequelize: SequelizeLike, name: string): string {
  const models = Object.values(sequelize.models ?? {}).filter(isModel);
  const candidates = [name];
  const dot = name.indexOf('.');
  if (dot > 0 && ['public', 'main'].includes(name.slice(0, dot).toLowerCase())) candidates.push(name.slice(dot + 1));
  for (const candidate of candidates) {
    for (const model of models) if (tableOf(model) === candidate) return candidate;
    const lower = candidate.toLowerCase();
    for (const model of models) {
      const table = tableOf(model);
      if (table.toLowerCase() === lower) return table;
    }
  }
  return name;
}
