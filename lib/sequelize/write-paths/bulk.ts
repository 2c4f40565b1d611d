/**
 * Bulk writes with a where: Model.update / destroy / restore (hasMany and belongsToMany
 * add/remove/set are such writes too). The before hook pre-queries the rows the where matches;
 * the after hook turns them into old and new row images. Over the cap, what the where pins by
 * equality still holds for every row touched, so schemes made of those fields stay exact.
 * @internal
 */
import type { RowImage } from '../../dependencies.js';
import { restoredValue, rowImage } from '../meta.js';
import type { HookOptions } from '../model.js';
import { prequery } from '../prequery.js';
import { assigned, whereEqualities } from '../where.js';
import type { WriteContext } from './context.js';

/**
 * The before hook of Model.update / destroy / restore: pre-queries the rows the where matches.
 * @internal
 */
export async function beforeBulk(ctx: WriteContext, options: HookOptions, kind: 'update' | 'destroy' | 'restore'): Promise<void> {
  const state = ctx.beginBulk(options);
  if (!state || state.skip) return;
  if (kind === 'destroy' && options.truncate) {
    state.whole = true;
    return;
  }
  // options.where already carries the scope and the paranoid clause (Model.update adds them
  // first). A soft delete only touches rows not deleted yet; findAll's paranoid clause says that.
  const soft = kind === 'destroy' && Boolean(state.model._timestampAttributes?.deletedAt) && !options.force;
  await prequery(ctx, state, options.where, options, soft);
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
  for (const old of state.old) {
    const after = assigned(meta, old, values);
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
