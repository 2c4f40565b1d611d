/**
 * bulkCreate: a plain insert reports the rows inserted, ids included. With ignoreDuplicates or
 * updateOnDuplicate the ids Sequelize reports cannot be trusted (except rows PostgreSQL returns),
 * so the values given are used, and with updateOnDuplicate the conflicting rows are pre-queried.
 * @internal
 */
import type { RowImage } from '../../dependencies.js';
import { attributeOf, rowImage, withoutGeneratedKeys } from '../meta.js';
import type { HookOptions, InstanceLike } from '../model.js';
import { prequeryConflicts, sharesKey, withConflictKeys } from '../prequery.js';
import { plainOrUnknown } from '../where.js';
import type { WriteContext } from './context.js';

/** @internal */
export async function beforeBulkCreate(ctx: WriteContext, instances: InstanceLike[], options: HookOptions): Promise<void> {
  const state = ctx.beginBulk(options, options?.model ?? instances[0]?.constructor);
  // With individualHooks every row has its own create hooks, but rows updated on a duplicate key
  // are still written by the one bulk statement: their old values are read here all the same.
  if (state?.skip && options.updateOnDuplicate) state.skip = false;
  if (!state || state.skip) return;
  const { meta } = state;
  const fields = Array.isArray(options.fields) ? new Set(options.fields as string[]) : undefined;
  state.given = instances.map((instance) => {
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(instance.dataValues ?? {})) if (!fields || fields.has(k)) values[k] = v;
    return withoutGeneratedKeys(meta, values);
  });
  if (options.updateOnDuplicate) {
    if (instances.length > ctx.options.prequeryLimit) {
      state.whole = true;
      return;
    }
    if (!await withConflictKeys(ctx, state, options.conflictAttributes)) return;
    prequeryConflicts(ctx, state, state.given, options, 'INSERT');
  }
}

/** @internal */
export async function afterBulkCreate(ctx: WriteContext, instances: InstanceLike[], options: HookOptions): Promise<void> {
  const ended = ctx.endBulk(options);
  if (!ended) return;
  const { state, meta } = ended;
  if (!state || state.whole) return ctx.record({ tables: [meta.table] }, options);
  const images: RowImage[] = [];
  const plain = !options.ignoreDuplicates && !options.updateOnDuplicate;
  const returnedRows = ctx.dialect() === 'postgres' && options.returning === true;
  if (plain) {
    // A plain insert: the instances hold the inserted rows, ids included.
    const fields = Array.isArray(options.fields) ? new Set([...(options.fields as string[]), ...meta.primaryKey]) : undefined;
    for (const instance of instances) images.push(rowImage(meta, instance.dataValues ?? {}, fields));
  } else if (returnedRows) {
    // PostgreSQL: `ON CONFLICT … RETURNING *` returns every row inserted or updated, complete,
    // and Sequelize copies them onto the first instances in order. Rows skipped by
    // ignoreDuplicates are not returned (they did not change); instances left without a
    // primary key are the ones no returned row was copied onto.
    for (const instance of instances) {
      const values = instance.dataValues ?? {};
      if (meta.primaryKey.length > 0 && meta.primaryKey.every((a) => values[a] !== undefined && values[a] !== null)) images.push(rowImage(meta, values));
    }
    for (const old of state.old ?? []) images.push(rowImage(meta, old));
  } else {
    // ignoreDuplicates / updateOnDuplicate: the ids Sequelize reports are not to be trusted;
    // use the values given (a generated key is unknown: its schemes fall back to the table).
    for (const given of state.given ?? []) images.push(rowImage(meta, given));
    if (options.updateOnDuplicate) {
      const update = new Set((options.updateOnDuplicate as string[]).map((f) => attributeOf(meta, f) ?? f));
      for (const old of state.old ?? []) {
        images.push(rowImage(meta, old));
        for (const given of state.given ?? []) {
          if (!sharesKey(meta, state.keys ?? [], old, given)) continue;
          const merged: Record<string, unknown> = { ...old };
          for (const a of update) if (a in given) merged[a] = plainOrUnknown(given[a]);
          else delete merged[a]; // set by Sequelize (timestamps): value unknown here
          images.push(rowImage(meta, merged));
        }
      }
    }
  }
  await ctx.record({ images }, options);
}
