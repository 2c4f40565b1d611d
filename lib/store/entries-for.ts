/**
 * The tags to ask for the entries a dependency covers (`store.entriesFor`): its own tags, and for
 * a row (a model instance) the tags a change of that row would reach through the schemes cached
 * entries use on its table (a list by one of its field values, the whole table).
 */
import { compileDependencies, compileInvalidation, Matching, type Dependency } from '../dependencies.js';
import { escape, rowChangeTags } from '../tags.js';

/** `schemesOf(escapedTable)`: the schemes entries use on that table. */
export async function tagsListing(dep: Dependency, schemesOf: (table: string) => Promise<string[]>): Promise<string[]> {
  const { tags } = compileDependencies([dep], 'entriesFor()');
  // An entry of a conjunction is listed under it and under its scheme's tag; ask the first.
  const asked = new Set(tags.filter((t) => !t.startsWith('a:')));
  if (typeof dep === 'object' && dep !== null && !(dep instanceof Matching)) {
    const read = new Map<string, Promise<string[]>>(); // a row's old and new images share a table
    for (const row of compileInvalidation([dep]).rows) {
      if (Object.keys(row.values).length === 0) continue; // a table, not a row
      if (!read.has(row.table)) read.set(row.table, schemesOf(escape(row.table)));
      for (const tag of rowChangeTags(row.table, [row.values], await read.get(row.table)!)) asked.add(tag);
    }
  }
  return [...asked];
}
