/**
 * The syntax-tree side of reading SQL for the safety net: the tables a parsed statement writes.
 * @internal
 */
import type { WrittenTable } from './sql.js';

type Node = Record<string, unknown>;

interface TableRef {
  name: string;
  alias: string | undefined;
}

/** Statement types that write nothing of existing tables. */
const READS = new Set(['select', 'create', 'transaction', 'set', 'show', 'use', 'lock', 'unlock', 'grant', 'revoke', 'declare', 'deallocate', 'desc', 'comment']);

function refOf(node: unknown): TableRef | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const { db, schema, table, as } = node as Node;
  if (typeof table !== 'string' || table === '') return undefined;
  const qualifier = typeof db === 'string' && db ? db : typeof schema === 'string' && schema ? schema : undefined;
  return { name: qualifier ? `${qualifier}.${table}` : table, alias: typeof as === 'string' && as ? as : undefined };
}

function refsOf(list: unknown): TableRef[] {
  const out: TableRef[] = [];
  for (const item of [list].flat(2)) {
    const ref = refOf(item);
    if (ref) out.push(ref);
  }
  return out;
}

/** Finds the table a name used in a statement (an alias or a table's name) stands for. */
function resolve(name: string, refs: TableRef[]): TableRef | undefined {
  return refs.find((r) => r.alias === name) ?? refs.find((r) => r.name === name || r.name.endsWith(`.${name}`));
}

/** Adds the tables one statement's tree writes to `out`; returns why it cannot tell, if so. */
export function walk(node: unknown, out: WrittenTable[]): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const stmt = node as Node;
  const type = typeof stmt.type === 'string' ? stmt.type.toLowerCase() : '';
  // Data-modifying CTEs (PostgreSQL), whatever the main statement is.
  for (const cte of Array.isArray(stmt.with) ? stmt.with : []) {
    const inner = (cte as { stmt?: { ast?: unknown } } | null)?.stmt;
    const problem = walk(inner && typeof inner === 'object' && 'ast' in inner ? inner.ast : inner, out);
    if (problem !== undefined) return problem;
  }
  const push = (refs: TableRef[], action: WrittenTable['action'], cascade = false): string | undefined => {
    if (refs.length === 0) return `a ${type} statement whose tables were not found in its syntax tree`;
    for (const ref of refs) out.push({ name: ref.name, action, cascade });
    return undefined;
  };
  switch (type) {
    case 'insert':
    case 'replace':
      return push(refsOf(stmt.table), 'insert');
    case 'update': {
      // UPDATE a JOIN b … SET b.x = …: the tables the SET names; an unqualified column could be
      // any table's, so then all of them.
      const targets = refsOf(stmt.table);
      const written = new Map<string, TableRef>();
      let unsure = false;
      for (const item of [stmt.set].flat()) {
        const qualifier = (item as Node | null)?.table;
        const ref = typeof qualifier === 'string' && qualifier ? resolve(qualifier, targets) : undefined;
        if (ref) written.set(ref.name, ref);
        else unsure = true;
      }
      return push(unsure || written.size === 0 ? targets : [...written.values()], 'update');
    }
    case 'delete': {
      // DELETE p, c FROM p JOIN c …: the listed names (aliases or tables) of the FROM side.
      const from = refsOf(stmt.from);
      const targets: TableRef[] = [];
      for (const ref of refsOf(stmt.table)) {
        const found = from.length > 0 ? resolve(ref.name, from) : ref;
        if (!found) return push(from.length > 0 ? from : refsOf(stmt.table), 'delete');
        targets.push(found);
      }
      return push(targets.length > 0 ? targets : from, 'delete');
    }
    case 'truncate': {
      const cascade = [stmt.suffix].flat().some((s) => /\bCASCADE\b/i.test(String((s as Node | null)?.value ?? '')));
      return push(refsOf(stmt.name), 'truncate', cascade);
    }
    case 'drop': {
      const keyword = String(stmt.keyword ?? '').toLowerCase();
      if (keyword === 'table') return push(refsOf(stmt.name), 'drop');
      // DROP TYPE / DOMAIN … CASCADE drops the columns of that type; other kinds hold no rows.
      if (['type', 'domain'].includes(keyword) && /\bCASCADE\b/i.test(JSON.stringify(stmt))) return `DROP ${keyword.toUpperCase()} … CASCADE drops columns`;
      if (['index', 'view', 'type', 'domain', 'function', 'procedure', 'trigger', 'sequence', 'event'].includes(keyword)) return undefined;
      return `DROP ${keyword.toUpperCase()} may drop any table`;
    }
    case 'load_data':
      return push(refsOf(stmt.table), 'insert');
    case 'alter':
    case 'rename':
      return push(refsOf(stmt.table), 'alter');
    default:
      return READS.has(type) ? undefined : `a ${type || 'unknown'} statement may write any table`;
  }
}
