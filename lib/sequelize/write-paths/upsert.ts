/**
 * upsert: the rows sharing a conflict key with the values given are pre-queried; afterwards they
 * changed to the values written, or, when there was none, the values given were inserted.
 * PostgreSQL returns the row written; other dialects report ids that cannot be trusted.
 * @internal
 */
import type { RowImage } from '../../dependencies.js';
import { attributeOf, byAttribute, metaOf, rowImage, withoutGeneratedKeys } from '../meta.js';
import { isInstance, isModel, type HookOptions } from '../model.js';
import { prequeryConflicts, withConflictKeys } from '../prequery.js';
import { plainOrUnknown } from '../where.js';
import type { BulkState, WriteContext } from './context.js';

/** @internal */
export async function beforeUpsert(ctx: WriteContext, values: Record<string, unknown>, options: HookOptions): Promise<void> {
  const model = options?.model;
  if (!isModel(model)) return;
  const meta = metaOf(model);
  // The values as written: Sequelize built an instance of them (setters and defaults applied).
  const built = isInstance(options.instance) ? options.instance.dataValues : undefined;
  const given = byAttribute(meta, built ?? values ?? {});
  const state: BulkState = { model, meta, given: [given] };
  ctx.bulk.set(options, state);
  if (!await withConflictKeys(ctx, state, options.conflictFields)) return;
  prequeryConflicts(ctx, state, [given], options, 'UPSERT');
}

/** @internal */
export async function afterUpsert(ctx: WriteContext, result: unknown, options: HookOptions): Promise<void> {
  const ended = ctx.endBulk(options);
  if (!ended) return;
  const { state, model, meta } = ended;
  if (!state || state.whole || !state.old) return ctx.record({ tables: [meta.table] }, options);
  const given = state.given?.[0] ?? {};
  const fields = Array.isArray(options.fields) ? new Set((options.fields as string[]).map((f) => attributeOf(meta, f) ?? f)) : new Set(Object.keys(given));
  const images: RowImage[] = [];
  const record = Array.isArray(result) ? result[0] : undefined;
  const returned = isInstance(record) && ctx.dialect() === 'postgres' && options.returning !== false;
  if (returned) images.push(rowImage(meta, record.dataValues));
  // No existing row: an insert of the values given (a generated key is unknown).
  else if (state.old.length === 0) images.push(rowImage(meta, withoutGeneratedKeys(meta, given)));
  const updatedAt = model._timestampAttributes?.updatedAt;
  for (const old of state.old) {
    images.push(rowImage(meta, old));
    const merged: Record<string, unknown> = { ...old };
    for (const a of fields) if (a in given) merged[a] = plainOrUnknown(given[a]);
    if (updatedAt && !(updatedAt in given)) delete merged[updatedAt];
    images.push(rowImage(meta, merged));
  }
  await ctx.record({ images }, options);
}
