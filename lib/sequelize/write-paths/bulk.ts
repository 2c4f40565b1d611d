/**
 * Bulk writes with a where: Model.update / destroy / restore (hasMany and belongsToMany
 * add/remove/set are such writes too). The before hook arms the read of the rows the where
 * matches, run locked right before the statement; the after hook turns them into old and new
 * row images. Over the cap, what the where pins by
 * equality still holds for every row touched, so schemes made of those fields stay exact.
 * @internal
 */
import type { RowImage } from '../../dependencies.js';
import { restoredValue, rowImage } from '../meta.js';
import type { HookOptions } from '../model.js';
import { prequery } from '../prequery.js';
import { updateReadColumns } from '../read-columns.js';
import { assigned, assignment, whereEqualities } from '../where.js';
import type { WriteContext } from './context.js';

/**
 * The before hook of Model.update / destroy / restore: arms the read of the rows the where matches.
 * @internal
 */
export function beforeBulk(ctx: WriteContext, options: HookOptions, kind: 'update' | 'destroy' | 'restore'): void {
  const state = ctx.beginBulk(options);
  if (!state || state.skip) return;
  if (kind === 'destroy' && options.truncate) {
    state.whole = true;
    return;
  }
  // Read with the where the statement is sent with (scope and paranoid clause included; a soft
  // delete's own "not deleted yet" is not in it: the read is wider then, never narrower).
  // An update reads the columns its images and cascades need (read-columns.ts).
  const columns = kind === 'update' ? () => updateReadColumns(ctx, state.meta, options) : undefined;
  prequery(ctx, state, options, kind === 'destroy' ? ['BULKDELETE', 'BULKUPDATE'] : ['BULKUPDATE'], undefined, columns);
}

/** @internal */
export async function afterBulkUpdate(ctx: WriteContext, options: HookOptions): Promise<void> {
  const ended = ctx.endBulk(options);
  if (!ended) return;
  const { state, meta } = ended;
  const values = (options.attributes ?? {}) as Record<string, unknown>;
  if (!state || state.whole || !state.old) {
    // Rows unknown (over the cap): what the where pins down by equality still holds for every
    // touched row, before (and after, unless written); schemes needing other fields fall back.
    const before = whereEqualities(meta, options.where);
    const after = assigned(meta, before, values);
    return ctx.record({ tables: ctx.cascadeTables(meta.table, 'update'), images: [rowImage(meta, before), rowImage(meta, after)] }, options);
  }
  const images: RowImage[] = [];
  const pairs: Array<[Record<string, unknown>, Record<string, unknown>]> = [];
  const assigns = assignment(meta, values);
  for (const old of state.old) {
    const after = { ...old, ...assigns };
    images.push(rowImage(meta, old), rowImage(meta, after));
    pairs.push([old, after]);
  }
  await ctx.record({ tables: ctx.updateCascades(meta, pairs), images }, options);
}

/** @internal */
export async function afterBulkDestroy(ctx: WriteContext, options: HookOptions): Promise<void> {
  const ended = ctx.endBulk(options);
  if (!ended) return;
  const { state, model, meta } = ended;
  const deletedAt = model._timestampAttributes?.deletedAt;
  const soft = Boolean(deletedAt) && !options.force;
  const cascade = soft ? new Set<string>() : ctx.cascadeTables(meta.table, options.truncate && options.cascade ? 'truncate' : 'delete');
  if (!state || state.whole || !state.old) {
    if (options.truncate) return ctx.record({ tables: [meta.table, ...cascade] }, options);
    const before = whereEqualities(meta, options.where);
    const after = { ...before };
    if (soft && deletedAt) delete after[deletedAt];
    return ctx.record({ tables: cascade, images: [rowImage(meta, before), rowImage(meta, after)] }, options);
  }
  const images: RowImage[] = [];
  for (const old of state.old) {
    images.push(rowImage(meta, old));
    if (soft && deletedAt) {
      const after = { ...old };
      delete after[deletedAt]; // set to "now" by Sequelize: unknown here
      images.push(rowImage(meta, after));
    }
  }
  await ctx.record({ tables: cascade, images }, options);
}

/** @internal */
export async function afterBulkRestore(ctx: WriteContext, options: HookOptions): Promise<void> {
  const ended = ctx.endBulk(options);
  if (!ended) return;
  const { state, model, meta } = ended;
  const deletedAt = model._timestampAttributes?.deletedAt;
  const restored = deletedAt ? restoredValue(model, deletedAt) : null;
  if (!state || state.whole || !state.old) {
    const before = whereEqualities(meta, options.where);
    if (deletedAt) delete before[deletedAt];
    return ctx.record({ images: [rowImage(meta, before), rowImage(meta, deletedAt ? { ...before, [deletedAt]: restored } : before)] }, options);
  }
  const images: RowImage[] = [];
  for (const old of state.old) {
    images.push(rowImage(meta, old));
    if (deletedAt) images.push(rowImage(meta, { ...old, [deletedAt]: restored }));
  }
  await ctx.record({ images }, options);
}
