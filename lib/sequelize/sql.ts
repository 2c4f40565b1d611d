/**
 * Best-effort recognition of the tables a SQL statement writes to, for the safety net: queries
 * that reach the database without model hooks (queryInterface.bulkInsert/bulkDelete, raw writes,
 * DROP TABLE of a sync). It reads the statement's leading keyword and the target of INSERT INTO,
 * UPDATE, DELETE FROM, TRUNCATE, REPLACE INTO, MERGE INTO and DROP TABLE. It is not a SQL parser:
 * a write hidden in a function, a trigger or a CTE it cannot see is documented as needing a
 * manual `store.invalidate(...)`.
 */

/** @internal */
export interface WrittenTable {
  /** unquoted name: `table` or `schema.table` */
  name: string;
  /** what the statement did to it */
  action: 'insert' | 'update' | 'delete' | 'truncate' | 'drop';
  /** TRUNCATE … CASCADE */
  cascade: boolean;
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|\x60(?:[^\x60]|\x60\x60)+\x60|\[[^\]]+\]|[A-Za-z_][\w$]*)`;
const TARGET = new RegExp(
  String.raw`(?<!\b(?:ON|FOR|DO|KEY)\s+)\b(INSERT\s+(?:OR\s+[A-Za-z]+\s+)?INTO|REPLACE\s+INTO|MERGE\s+INTO|UPDATE(?:\s+OR\s+[A-Za-z]+)?(?:\s+ONLY)?|DELETE\s+FROM(?:\s+ONLY)?|TRUNCATE(?:\s+TABLE)?(?:\s+ONLY)?|DROP\s+TABLE(?:\s+IF\s+EXISTS)?)\s+(${IDENT}(?:\s*\.\s*${IDENT})?)`,
  'gi',
);
/** Keywords a writing statement can start with (WITH/CREATE/DO: a CTE or a function wrapping the write). */
const WRITE_LEADERS = new Set(['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'DROP', 'REPLACE', 'MERGE', 'WITH', 'CREATE', 'DO', 'UPSERT']);
const LEADER = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*([A-Za-z]+)/;
const NOT_TABLES = new Set(['SET', 'CASCADE', 'NOTHING', 'RESTRICT', 'SELECT', 'VALUES', 'DEFAULT']);

function unquote(ident: string): string {
  const first = ident[0];
  if (first === '"') return ident.slice(1, -1).replace(/""/g, '"');
  if (first === '`') return ident.slice(1, -1).replace(/``/g, '`');
  if (first === '[') return ident.slice(1, -1);
  return ident;
}

function splitName(name: string): string[] {
  const parts: string[] = [];
  const re = new RegExp(IDENT, 'g');
  let m: RegExpExecArray | null;
  while ((m = re.exec(name)) !== null) parts.push(unquote(m[0]));
  return parts;
}

/** @internal Quick check: can this SQL write at all? (Cheap enough to run on every query.) */
export function mayWrite(sql: string): boolean {
  const leader = LEADER.exec(sql)?.[1]?.toUpperCase();
  if (leader !== undefined && WRITE_LEADERS.has(leader)) return true;
  if (!sql.includes(';')) return false;
  return sql.split(';').some((part) => {
    const l = LEADER.exec(part)?.[1]?.toUpperCase();
    return l !== undefined && WRITE_LEADERS.has(l);
  });
}

/** @internal The tables `sql` writes to, as far as its statements' leading keywords and targets tell. */
export function writtenTables(sql: string): WrittenTable[] {
  if (typeof sql !== 'string' || !mayWrite(sql)) return [];
  const out: WrittenTable[] = [];
  TARGET.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TARGET.exec(sql)) !== null) {
    const verb = m[1]!.toUpperCase();
    const parts = splitName(m[2]!);
    if (parts.length === 0) continue;
    if (parts.length === 1 && NOT_TABLES.has(parts[0]!.toUpperCase()) && !m[2]!.startsWith('"') && !m[2]!.startsWith('`')) continue;
    const action: WrittenTable['action'] = verb.startsWith('INSERT') || verb.startsWith('REPLACE') || verb.startsWith('MERGE') ? 'insert'
      : verb.startsWith('UPDATE') ? 'update'
        : verb.startsWith('DELETE') ? 'delete'
          : verb.startsWith('TRUNCATE') ? 'truncate' : 'drop';
    let cascade = false;
    if (action === 'truncate') {
      const rest = sql.slice(TARGET.lastIndex, TARGET.lastIndex + 200);
      cascade = /^[^;]*?\bCASCADE\b/i.test(rest);
    }
    out.push({ name: parts.join('.'), action, cascade });
  }
  return out;
}
