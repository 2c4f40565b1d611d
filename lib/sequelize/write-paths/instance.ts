/**
 * Instance writes: create, update, destroy and restore of one instance. The hooks give the row's
 * new values and its old ones (`_previousDataValues`, or a snapshot the before hook took).
 * @internal
 */
import { byAttribute, metaOf, primaryKeyOf, rememberFilled, restoredValue, rowImage, valuesBefore, type ModelMeta } from '../meta.js';
import { isInstance, type HookOptions, type InstanceLike } from '../model.js';
import { isPlain, plainOrUnknown } from '../where.js';
import type { WriteContext } from './context.js';

/** @internal */
export async function afterCreate(ctx: WriteContext, instance: InstanceLike, options: HookOptions): Promise<void> {
  if (!isInstance(instance)) return;
  const meta = metaOf(instance.constructor);
  let only: Set<string> | undefined;
  if (Array.isArray(options?.fields) && !options.defaultFields) only = new Set([...(options.fields as string[]), ...meta.primaryKey]);
  const image = rowImage(meta, instance.dataValues, only);
  // Columns the database filled in (defaults, expressions) that no RETURNING brought back: read
  // them, so that this image and the instance's later old images are exact, not widened.
  const missing = meta.taggable.filter((a) => !(a in image.values));
  if (missing.length > 0) {
    const filled = await readBack(ctx, instance, meta, missing, options);
    if (filled) {
      rememberFilled(instance, filled);
      Object.assign(image.values, rowImage(meta, filled).values);
    }
  }
  await ctx.record({ images: [image] }, options);
}

/** The `attributes` of the row just inserted for `instance`, by primary key, in its transaction. */
async function readBack(ctx: WriteContext, instance: InstanceLike, meta: ModelMeta, attributes: string[], options: HookOptions): Promise<Record<string, unknown> | undefined> {
  const where = primaryKeyOf(instance, meta);
  if (meta.primaryKey.length === 0 || Object.values(where).some((v) => v === undefined || v === null || !isPlain(v))) return undefined;
  try {
    const rows = await meta.model.unscoped().findAll({ where, attributes, raw: true, limit: 1, transaction: options.transaction, hooks: false, logging: options.logging });
    return rows[0] ? byAttribute(meta, rows[0]) : undefined;
  } catch (error) {
    ctx.emitError(error); // the image stays without them: wider, never stale
    return undefined;
  }
}

/** Marks an instance whose next query our after hook covers, and keeps its values before the write. */
function snapshot(ctx: WriteContext, instance: InstanceLike): void {
  ctx.covered.add(instance);
  ctx.snapshots.set(instance, valuesBefore(instance));
}

/** The values a before hook kept for `instance` (taken once), else its values before the change. */
function takeSnapshot(ctx: WriteContext, instance: InstanceLike): Record<string, unknown> {
  ctx.covered.delete(instance);
  const before = ctx.snapshots.get(instance) ?? valuesBefore(instance);
  ctx.snapshots.delete(instance);
  return before;
}

/** @internal */
export function beforeUpdate(ctx: WriteContext, instance: InstanceLike, options: HookOptions): void {
  // Model.update({ individualHooks }) may save the rows one by one with hooks off.
  if (!options?.individualHooks || !isInstance(instance)) return;
  snapshot(ctx, instance);
}

/** @internal */
export async function afterUpdate(ctx: WriteContext, instance: InstanceLike, options: HookOptions): Promise<void> {
  if (!isInstance(instance)) return;
  const before = takeSnapshot(ctx, instance);
  const meta = metaOf(instance.constructor);
  const written = Array.isArray(options?.fields) ? (options.fields as string[]) : Object.keys(instance.dataValues);
  const after: Record<string, unknown> = { ...before };
  for (const attribute of written) {
    if (Object.prototype.hasOwnProperty.call(instance.dataValues, attribute)) after[attribute] = plainOrUnknown(instance.dataValues[attribute]);
  }
  const tables = ctx.updateCascades(meta, [[before, after]]);
  await ctx.record({ tables, images: [rowImage(meta, before), rowImage(meta, after)] }, options);
}

/** @internal */
export function beforeDestroyOrRestore(ctx: WriteContext, instance: InstanceLike): void {
  if (!isInstance(instance)) return;
  // A paranoid destroy / a restore saves the row with hooks off: covered by our after hook.
  snapshot(ctx, instance);
}

/** @internal */
export async function afterDestroyOrRestore(ctx: WriteContext, instance: InstanceLike, options: HookOptions, kind: 'destroy' | 'restore'): Promise<void> {
  if (!isInstance(instance)) return;
  const before = takeSnapshot(ctx, instance);
  const model = instance.constructor;
  const meta = metaOf(model);
  const after: Record<string, unknown> = { ...instance.dataValues };
  const deletedAt = model._timestampAttributes?.deletedAt;
  if (deletedAt && options?.individualHooks) {
    // Model.destroy/restore({ individualHooks }): the instances are not updated by the bulk write.
    if (kind === 'restore') after[deletedAt] = restoredValue(model, deletedAt);
    else delete after[deletedAt];
  }
  const images = [rowImage(meta, before), rowImage(meta, after)];
  const hard = kind === 'destroy' && (!deletedAt || options?.force === true);
  const tables = hard ? ctx.cascadeTables(meta.table, 'delete') : new Set<string>();
  await ctx.record({ tables, images }, options);
}
