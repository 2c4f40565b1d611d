/**
 * Changed rows cut down to the fields the schemes in use name. The invalidation script builds a
 * row's tags from those schemes and nothing else, so no other field can change a tag; without
 * them an update's old and new images are often alike (it changed no scheme field) and go once,
 * and every row is a fraction of the arguments.
 *
 * Which fields that is comes from the schemes this client last read (in the background, never
 * on an invalidation's path). The script is told which fields each table's rows were cut down
 * to and refuses the call, before any write, when a scheme in use names another field (one
 * registered since the read): the rows then go again with every field, and the schemes are read
 * again. So the cut is never wider nor narrower than sending every field.
 * @internal
 */
import type { Invalidation } from '../../dependencies.js';
import { escape } from '../../tags.js';
import { encodeRow, encodeRowFields, type EncodedRow } from './scripts.js';

/** How long a table's fields are used before they are read again (in the background). */
const MAX_AGE = 10_000;

interface Known {
  /** escaped fields of every scheme in use; undefined until read */
  fields: ReadonlySet<string> | undefined;
  readAt: number;
  reading: boolean;
}

/** The rows as the script takes them, and the fields each cut table's rows kept. */
export interface RowsToSend {
  rows: EncodedRow[];
  /** [escaped table, escaped fields] of every table whose rows were cut down */
  cut: Array<[table: string, fields: string[]]>;
}

/** @internal */
export class RowFields {
  /** `${namespace}\0${escaped table}` -> the fields its schemes name */
  private readonly known = new Map<string, Known>();

  /** `read`: the schemes (fields joined by `&`) entries of a namespace use on a table (escaped name). */
  constructor(private readonly read: (ns: string, table: string) => Promise<string[]>) {}

  /** Every field of every row, as the script takes them. */
  static full(rows: Invalidation['rows']): RowsToSend {
    return { rows: rows.map(encodeRow), cut: [] };
  }

  /** The rows cut down where the fields of their table are known (alike ones once), else whole. */
  cut(ns: string, rows: Invalidation['rows']): RowsToSend {
    const fieldsByTable = new Map<string, { table: string; fields: ReadonlySet<string> | undefined }>();
    const out: EncodedRow[] = [];
    const seen = new Set<string>();
    for (const row of rows) {
      let table = fieldsByTable.get(row.table);
      if (!table) {
        const escaped = escape(row.table);
        fieldsByTable.set(row.table, (table = { table: escaped, fields: this.fieldsOf(ns, escaped) }));
      }
      const { fields } = table;
      const args = encodeRowFields(row, fields, table.table);
      if (!fields) {
        out.push(args);
        continue;
      }
      // Fields and values are escaped: `field=value&` pairs say one row apart from another.
      let id = `${table.table}|`;
      for (let i = 2; i < args.length; i += 2) id += `${args[i]}=${args[i + 1]}&`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(args);
    }
    const cut: RowsToSend['cut'] = [];
    for (const { table, fields } of fieldsByTable.values()) if (fields) cut.push([table, [...fields]]);
    return { rows: out, cut };
  }

  /** A call was refused: a scheme names a field the rows of `table` (escaped) lacked. */
  outdated(ns: string, table: string): void {
    const known = this.known.get(`${ns}\u0000${table}`);
    if (!known) return;
    known.fields = undefined; // whole rows until read again
    known.readAt = 0;
  }

  /** The fields the schemes in use on `table` name, as last read; undefined: not known yet. */
  private fieldsOf(ns: string, table: string): ReadonlySet<string> | undefined {
    const id = `${ns}\u0000${table}`;
    let known = this.known.get(id);
    if (!known) {
      if (this.known.size >= 10_000) this.known.clear();
      this.known.set(id, (known = { fields: undefined, readAt: 0, reading: false }));
    }
    if (!known.reading && Date.now() - known.readAt > MAX_AGE) this.refresh(ns, table, known);
    return known.fields;
  }

  private refresh(ns: string, table: string, known: Known): void {
    known.reading = true;
    this.read(ns, table)
      .then((schemes) => {
        const fields = new Set<string>();
        for (const scheme of schemes) for (const field of scheme.split('&')) if (field !== '') fields.add(field);
        known.fields = fields;
      })
      // Not read: what was known stays in use (the script refuses what it cannot serve).
      .catch(() => undefined)
      .finally(() => {
        known.reading = false;
        known.readAt = Date.now();
      });
  }
}
