/**
 * The tables the SQL literals of a query name (`literal('(SELECT COUNT(*) FROM comments …)')`):
 * a literal can read any table, so each model table whose name appears in one is a dependency as
 * a whole. Tables no model maps are written only by raw SQL, which the safety net reports by name.
 * @internal
 */
import { metaOf } from '../meta.js';
import type { ModelLike } from '../model.js';

const isLiteral = (value: object): value is { val: unknown } => (Object.getPrototypeOf(value)?.constructor as { name?: string } | undefined)?.name === 'Literal';

/** Every literal's text inside `value` (where, attributes, order, includes…), each object visited once. */
function literalTexts(value: unknown, out: string[], seen: Set<object>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isLiteral(value)) {
    if (typeof value.val === 'string') out.push(value.val);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) literalTexts(item, out, seen);
    return;
  }
  const record = value as Record<string | symbol, unknown>;
  for (const key of Reflect.ownKeys(record)) {
    // parent links of resolved includes, and models and associations, hold no literal of this query
    if (key === 'parent' || key === 'association' || key === 'model' || key === 'includeMap' || key === 'topModel') continue;
    literalTexts(record[key], out, seen);
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The canonical tables of `model`'s Sequelize instance that a literal in `options` names. */
export function literalTables(model: ModelLike, options: object): string[] {
  const texts: string[] = [];
  literalTexts(options, texts, new Set());
  if (texts.length === 0) return [];
  const tables = new Set<string>();
  for (const candidate of Object.values(model.sequelize?.models ?? {})) {
    const table = metaOf(candidate).table;
    const bare = table.includes('.') ? table.slice(table.lastIndexOf('.') + 1) : table;
    const pattern = new RegExp(`(^|[^A-Za-z0-9_$])${escapeRegExp(bare)}($|[^A-Za-z0-9_$])`, 'i');
    if (texts.some((text) => pattern.test(text))) tables.add(table);
  }
  return [...tables];
}
