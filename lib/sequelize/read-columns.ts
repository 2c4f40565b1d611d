/**
 * The columns a Model.update's locked read needs, when it may read many rows: the fields the
 * schemes in use name (the only ones a row's tags are built from), and the primary and unique
 * keys the model declares (the columns a foreign key can reference: their old values tell
 * whether an update cascades). The others cost the read most of its time (dates parsed, text
 * copied) and change no tag; a referenced key the model does not declare, left out, only
 * widens the cascade.
 *
 * The schemes are read from the store at the write, at the same time as Sequelize prepares the
 * statement. A scheme registered after that read finds its fields missing from the old images,
 * and a missing field reaches every entry of that scheme: wider, never stale. A write that pins
 * its primary key (one row) reads every column, without waiting for the schemes; so does one
 * whose schemes do not come in time.
 * @internal
 */
import { escape } from '../tags.js';
import { withDeadline } from './deadline.js';
import type { ModelMeta } from './meta.js';
import type { HookOptions } from './model.js';
import { conflictKeys } from './prequery.js';
import { whereEqualities } from './where.js';
import type { WriteContext } from './write-paths/context.js';

/** How long the read waits for the schemes before it reads every column. */
const SCHEMES_WAIT = 200;

/**
 * The attributes the locked read of `options`' Model.update needs (a promise, started now);
 * undefined: every taggable one (the where pins the primary key).
 * @internal
 */
export function updateReadColumns(ctx: WriteContext, meta: ModelMeta, options: HookOptions): Promise<ReadonlySet<string> | undefined> | undefined {
  if (meta.primaryKey.length === 0) return undefined;
  const pinned = whereEqualities(meta, options.where);
  if (meta.primaryKey.every((a) => a in pinned)) return undefined;
  // A store of another copy of the library may not tell: then every column is read.
  if (typeof ctx.store.schemesOf !== 'function') return undefined;
  return withDeadline(Promise.resolve(meta.table).then((table) => ctx.store.schemesOf(table)), SCHEMES_WAIT)
    .then((schemes) => {
      const fields = new Set<string>();
      for (const scheme of schemes) for (const field of scheme.split('&')) fields.add(field);
      const columns = new Set<string>(conflictKeys(meta).flat());
      for (const attribute of meta.taggable) if (fields.has(escape(attribute))) columns.add(attribute);
      return columns;
    })
    .catch(() => undefined);
}
