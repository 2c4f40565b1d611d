/**
 * Instance writes: create, update, destroy and restore of one instance. The hooks give the row's
 * new values and its old ones (`_previousDataValues`, or a snapshot the before hook took); the
 * row as the database held it before the write and holds it after is read too (old-values.ts),
 * so a stale instance, a field set twice or a column the database computes still invalidates
 * exactly what changed.
 * @internal
 */
import { metaOf, primaryKeyOf, rememberFilled, restoredValue, rowImage, valuesBefore, type ModelMeta } from '../meta.js';
import { isInstance, type HookOptions, type InstanceLike } from '../model.js';
import type { RowImage } from '../../dependencies.js';
import { readAfter, readBefore, readRow, takeBefore, type DatabaseRow } from '../old-values.js';
import { plainOrUnknown } from '../where.js';
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
  const row = await readRow(ctx, meta, primaryKeyOf(instance, meta), options);
  if (!row || row === 'failed') return undefined; // the image stays without them: wider, never stale
  return Object.fromEntries(attributes.filter((a) => a in row).map((a) => [a, row[a]]));
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
  if (!isInstance(instance)) return;
  // Model.update({ individualHooks }) may save the rows one by one with hooks off.
  if (options?.individualHooks) snapshot(ctx, instance);
  // Costs nothing until the UPDATE is sent (none when nothing changed, even after later hooks).
  readBefore(ctx, metaOf(instance.constructor), instance, options);
}

/**
 * The images of what the database held and holds around a write: `before` as read (a failed
 * read widens to every entry of the table's schemes), `after` as read when it was.
 */
function databaseImages(meta: ModelMeta, before: DatabaseRow | undefined, after: DatabaseRow | undefined): RowImage[] {
  const images: RowImage[] = [];
  for (const row of [before, after]) {
    if (row === 'failed') images.push({ table: meta.table, values: {} });
    else if (row) images.push(rowImage(meta, row));
  }
  return images;
}

/** @internal */
export async function afterUpdate(ctx: WriteContext, instance: InstanceLike, options: HookOptions): Promise<void> {
  if (!isInstance(instance)) return;
  const before = takeSnapshot(ctx, instance);
  const stored = takeBefore(ctx, instance, options);
  const meta = metaOf(instance.constructor);
  const written = Array.isArray(options?.fields) ? (options.fields as string[]) : Object.keys(instance.dataValues);
  const after: Record<string, unknown> = { ...before };
  for (const attribute of written) {
    if (Object.prototype.hasOwnProperty.call(instance.dataValues, attribute)) after[attribute] = plainOrUnknown(instance.dataValues[attribute]);
  }
  // The new row as stored: columns the database computes (generated, triggers) are not in `after`.
  const current = stored === undefined ? undefined : await readAfter(ctx, meta, instance, options);
  const pairs: Array<[Record<string, unknown>, Record<string, unknown>]> = [[before, after]];
  if (stored && stored !== 'failed') pairs.push([stored, current && current !== 'failed' ? current : after]);
  // No await between the cascade walk and record(): it must be filed with this change.
  const tables = ctx.updateCascades(meta, pairs);
  await ctx.record({ tables, images: [rowImage(meta, before), rowImage(meta, after), ...databaseImages(meta, stored, current)] }, options);
}

/** @internal */
export function beforeDestroyOrRestore(ctx: WriteContext, instance: InstanceLike, options: HookOptions): void {
  if (!isInstance(instance)) return;
  // A paranoid destroy / a restore saves the row with hooks off: covered by our after hook.
  snapshot(ctx, instance);
  readBefore(ctx, metaOf(instance.constructor), instance, options);
}

/** @internal */
export async function afterDestroyOrRestore(ctx: WriteContext, instance: InstanceLike, options: HookOptions, kind: 'destroy' | 'restore'): Promise<void> {
  if (!isInstance(instance)) return;
  const before = takeSnapshot(ctx, instance);
  const stored = takeBefore(ctx, instance, options);
  const model = instance.constructor;
  const meta = metaOf(model);
  const after: Record<string, unknown> = { ...instance.dataValues };
  const deletedAt = model._timestampAttributes?.deletedAt;
  if (deletedAt && options?.individualHooks) {
    // Model.destroy/restore({ individualHooks }): the instances are not updated by the bulk write.
    if (kind === 'restore') after[deletedAt] = restoredValue(model, deletedAt);
    else delete after[deletedAt];
  }
  const hard = kind === 'destroy' && (!deletedAt || options?.force === true);
  // A soft delete or a restore keeps the row: its new values as stored.
  const current = hard || stored === undefined ? undefined : await readAfter(ctx, meta, instance, options);
  const tables = hard ? ctx.cascadeTables(meta.table, 'delete') : new Set<string>();
  const images = [rowImage(meta, before), rowImage(meta, after), ...databaseImages(meta, stored, current)];
  await ctx.record({ tables, images }, options);
}
