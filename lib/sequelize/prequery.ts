/**
 * Pre-queries: a bulk write reads the rows it will change (at most `prequeryLimit`), locked,
 * right before its statement (read-at-write.ts), so that the after hook knows their old values;
 * and the conflict keys that say which existing rows an insert-or-update (bulkCreate
 * updateOnDuplicate, upsert) can hit.
 * @internal
 */
import { attributeOf, sameColumnValue, type ModelMeta } from './meta.js';
import type { HookOptions } from './model.js';
import { ArmedRead, armRead, type WriteType } from './read-at-write.js';
import { databaseUniqueKeys, upsertsOnAnyUniqueKey } from './unique-keys.js';
import { isPlain } from './where.js';
import type { BulkState, WriteContext } from './write-paths/context.js';

const OR = Symbol.for('or');

/**
 * Arms the read of the rows the write changes (read-at-write.ts): `where` (attribute-keyed), or
 * the write's own where when undefined; at most `prequeryLimit` rows (more: the state ends
 * `whole`). The statement `types` say which of the write's statements it runs before; `columns`,
 * which attributes it reads (started once the read is armed; undefined: every taggable one).
 * @internal
 */
export function prequery(
  ctx: WriteContext, state: BulkState, options: HookOptions, types: WriteType[], where?: Record<string | symbol, unknown>,
  columns?: () => Promise<ReadonlySet<string> | undefined> | undefined,
): void {
  const limit = ctx.options.prequeryLimit;
  if (limit <= 0) {
    state.whole = true;
    return;
  }
  state.read = armRead(options, new ArmedRead(ctx, state.meta, where, new Set(types), limit, undefined, columns?.()));
}

/**
 * Pre-queries the existing rows that share a complete conflict key (`state.keys`) with any of
 * `records`; none can when no record has a complete key.
 * @internal
 */
export function prequeryConflicts(ctx: WriteContext, state: BulkState, records: Array<Record<string, unknown>>, options: HookOptions, type: WriteType): void {
  const conditions = conflictWhere(state.keys ?? [], records);
  if (conditions.length === 0) state.old = [];
  else prequery(ctx, state, options, [type], (conditions.length === 1 ? conditions[0] : { [OR]: conditions }) as Record<string | symbol, unknown>);
}

/**
 * Sets `state.keys`, the conflict keys an insert-or-update can hit; false (and the state
 * `whole`) when they cannot be known. MariaDB/MySQL update on a collision with any unique key
 * the database declares, the model's or a migration's, whatever conflict fields are named.
 * @internal
 */
export async function withConflictKeys(ctx: WriteContext, state: BulkState, conflict: unknown): Promise<boolean> {
  const keys = conflictKeys(state.meta, upsertsOnAnyUniqueKey(ctx.dialect()) ? undefined : conflict);
  if (upsertsOnAnyUniqueKey(ctx.dialect())) {
    const declared = await databaseUniqueKeys(ctx, state.meta);
    if (declared === undefined || declared === 'unmatchable') {
      state.whole = true;
      return false;
    }
    const seen = new Set(keys.map((k) => [...k].sort().join('\u0000')));
    for (const key of declared) if (!seen.has([...key].sort().join('\u0000'))) keys.push(key);
  }
  state.keys = keys;
  return true;
}

/** @internal Conflict keys of a model (attribute lists): conflict fields, else primary key, unique keys and indexes. */
export function conflictKeys(meta: ModelMeta, conflict?: unknown): string[][] {
  const model = meta.model;
  const toAttributes = (fields: Array<string | { name?: string; attribute?: string }>) =>
    fields.map((f) => (typeof f === 'string' ? attributeOf(meta, f) : attributeOf(meta, f.attribute ?? f.name ?? '')));
  const keys: string[][] = [];
  const push = (attrs: Array<string | undefined>) => {
    if (attrs.length > 0 && attrs.every((a): a is string => a !== undefined)) keys.push(attrs as string[]);
  };
  if (Array.isArray(conflict) && conflict.length > 0) {
    push(toAttributes(conflict as string[]));
    return keys;
  }
  if (meta.primaryKey.length > 0) push(meta.primaryKey);
  for (const key of Object.values(model.uniqueKeys ?? {})) if (key.fields?.length) push(toAttributes(key.fields));
  for (const index of model._indexes ?? []) if (index.unique && !index.where && index.fields?.length) push(toAttributes(index.fields));
  return keys;
}

/** The pre-query `where`s selecting rows that share a complete conflict key with any record. */
function conflictWhere(keys: string[][], records: Array<Record<string, unknown>>): unknown[] {
  const conditions: unknown[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    for (const key of keys) {
      if (!key.every((a) => record[a] !== undefined && record[a] !== null && isPlain(record[a]))) continue;
      const condition: Record<string, unknown> = {};
      for (const a of key) condition[a] = record[a];
      const id = JSON.stringify(key.map((a) => String(record[a])).concat(key));
      if (seen.has(id)) continue;
      seen.add(id);
      conditions.push(condition);
    }
  }
  return conditions;
}

/** @internal Do an old row and a given record share a complete conflict key (normalized comparison)? */
export function sharesKey(meta: ModelMeta, keys: string[][], old: Record<string, unknown>, given: Record<string, unknown>): boolean {
  return keys.some((key) => key.every((a) => old[a] !== null && given[a] !== null && sameColumnValue(meta, a, old, given) === true));
}
