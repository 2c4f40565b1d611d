/**
 * The changes one registration collects for one root transaction (or for one write outside a
 * transaction): whole tables and distinct encoded row images, turned into one invalidation
 * request at flush, and asked by the read-through whether an entry's tags were touched.
 * @internal
 */
import type { Invalidation, RowImage } from '../dependencies.js';
import { anySchemeTag, encodeValue, escape, parseTag, rowChangeTags } from '../tags.js';

/** @internal What one write changed: whole tables (rows unknown) and row images. */
export type Change = { tables?: Iterable<string>; images?: Iterable<RowImage> };

/** Escaped field names: a table's few fields recur in every row image. */
const escaped = new Map<string, string>();
function escapedField(field: string): string {
  let out = escaped.get(field);
  if (out === undefined) {
    if (escaped.size >= 10_000) escaped.clear();
    escaped.set(field, (out = escape(field)));
  }
  return out;
}

type EncodedRow = Invalidation['rows'][number];

/** A row image with no values: a change to the whole table (every scheme lacks its fields). */
const WHOLE_TABLE: ReadonlyArray<Record<string, string>> = [{}];

/** @internal */
export class Collector {
  /** canonical names of the tables changed as a whole (rows unknown) */
  readonly tables = new Set<string>();
  /** table -> distinct encoded row images */
  readonly rows = new Map<string, Map<string, EncodedRow>>();

  constructor(private readonly maxRowImages: number) {}

  add(change: Change): void {
    for (const table of change.tables ?? []) this.wholeTable(table);
    for (const image of change.images ?? []) {
      if (this.tables.has(image.table)) continue;
      const values: Record<string, string> = {};
      // Images are built in the model's attribute order, so equal images give equal keys.
      let key = '';
      try {
        for (const f in image.values) {
          const v = image.values[f];
          if (v === undefined) continue; // unknown: schemes that need it fall back to the table
          const field = escapedField(f);
          const value = encodeValue(v, () => `row of '${image.table}': field '${f}'`);
          values[field] = value;
          key += `${field}=${value}&`;
        }
      } catch {
        // Cannot happen for normalized images; if it does, be conservative.
        this.wholeTable(image.table);
        continue;
      }
      let byKey = this.rows.get(image.table);
      if (!byKey) this.rows.set(image.table, (byKey = new Map()));
      if (!byKey.has(key)) byKey.set(key, { table: image.table, values });
      if (byKey.size > this.maxRowImages) this.wholeTable(image.table);
    }
  }

  private wholeTable(table: string): void {
    this.tables.add(table);
    this.rows.delete(table);
  }

  get empty(): boolean {
    return this.tables.size === 0 && this.rows.size === 0;
  }

  /** The request for the store: a row image with no values is a change to the whole table. */
  request(): Invalidation {
    const rows: Invalidation['rows'] = [];
    for (const table of this.tables) rows.push({ table, values: {} });
    for (const byKey of this.rows.values()) for (const row of byKey.values()) rows.push(row);
    return { tags: [], rows };
  }

  /** The tables changed so far, as a whole or by rows. */
  written(): string[] {
    return [...new Set([...this.tables, ...this.rows.keys()])];
  }

  /**
   * Would flushing this collector remove an entry listed under `tag`? The tags a row change
   * reaches come from `rowChangeTags`, the rule the backends apply, with the tag's own scheme as
   * the one in use. An entry with a conjunction is also listed under its scheme's any-scheme tag
   * (see compileDependencies), so the fallback to that tag reaches it too.
   */
  touches(tag: string): boolean {
    const parsed = parseTag(tag);
    if (!parsed || parsed.kind === 'user') return false;
    const { table } = parsed;
    const byKey = this.rows.get(table);
    const rows = this.tables.has(table) ? WHOLE_TABLE : byKey ? Array.from(byKey.values(), (row) => row.values) : undefined;
    if (!rows) return false;
    const reached = rowChangeTags(table, rows, parsed.kind === 'table' ? [] : [parsed.scheme]);
    return reached.includes(tag) || (parsed.kind === 'conjunction' && reached.includes(anySchemeTag(table, parsed.scheme)));
  }
}
