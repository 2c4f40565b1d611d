/**
 * The tables a SQL text writes to, for the safety net: queries that reach the database without
 * model hooks (queryInterface.bulkInsert/bulkDelete, raw writes, DROP TABLE of a sync).
 *
 * A cheap leading-keyword check keeps reads free: only statements that start with a writing
 * keyword are read at all. Those are split lexically (strings, quoted names, comments and dollar
 * quotes respected) and parsed one by one with node-sql-parser's grammar for the connection's
 * dialect; the written tables come from the syntax tree, never from a guess. A statement that may
 * write but cannot be read (a parse error, MERGE, CALL, DO, a statement type we do not know)
 * makes the whole text `unreadable`: the caller then widens rather than guesses.
 */
import { createRequire } from 'node:module';

/** @internal */
export interface WrittenTable {
  /** unquoted name: `table` or `schema.table` */
  name: string;
  /** what the statement did to it (`alter`: ALTER TABLE / RENAME, the rows' shape changed) */
  action: 'insert' | 'update' | 'delete' | 'truncate' | 'drop' | 'alter';
  /** TRUNCATE … CASCADE */
  cascade: boolean;
}

/** @internal What a SQL text writes. */
export interface SqlWrites {
  tables: WrittenTable[];
  /** why a statement that may write could not be read: every table it could write must go */
  unreadable?: string;
}

/**
 * Keywords a writing statement can start with. WITH may carry a data-modifying CTE (PostgreSQL)
 * or lead an UPDATE / DELETE; DO, CALL, EXEC and EXECUTE run code that may write; EXPLAIN and
 * ANALYZE can execute the statement they explain. CREATE is not among them: it makes a new
 * object, whose rows nothing has cached yet.
 */
const WRITE_LEADERS = new Set([
  'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'DROP', 'REPLACE', 'MERGE', 'UPSERT', 'WITH', 'ALTER', 'RENAME',
  'LOAD', 'COPY', 'DO', 'CALL', 'EXEC', 'EXECUTE', 'EXPLAIN', 'ANALYZE', 'HANDLER', 'IMPORT',
]);
const LEADER = /^(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*([A-Za-z]+)/;

/** @internal Quick check: can this SQL write at all? (Cheap enough to run on every query.) */
export function mayWrite(sql: string): boolean {
  const leader = LEADER.exec(sql)?.[1]?.toUpperCase();
  if (leader !== undefined && WRITE_LEADERS.has(leader)) return true;
  if (!sql.includes(';')) return false;
  // Over-approximate: a `;` inside a string only costs a lexical split below.
  return sql.split(';').some((part) => {
    const l = LEADER.exec(part)?.[1]?.toUpperCase();
    return l !== undefined && WRITE_LEADERS.has(l);
  });
}

/* ------------------------------------------------------------------------------------------ */
/* Lexical scanning                                                                           */
/* ------------------------------------------------------------------------------------------ */

type Family = 'postgres' | 'mysql' | 'sqlite' | 'other';

interface Token {
  /** upper-cased word, or the punctuation character */
  text: string;
  start: number;
  end: number;
  /** parenthesis depth before the token */
  depth: number;
  word: boolean;
}

// Char-code tests: the scanner runs over every character of a bulk insert.
const isWordStart = (code: number) => (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
const isWordChar = (code: number) => isWordStart(code) || (code >= 48 && code <= 57) || code === 36;

/**
 * The top-level-relevant tokens of `sql`: words and punctuation outside strings, quoted names and
 * comments (those are skipped as a whole, so a `;` or a keyword inside them counts for nothing).
 */
function tokenize(sql: string, family: Family): Token[] {
  const out: Token[] = [];
  const mysql = family === 'mysql';
  let depth = 0;
  let i = 0;
  const n = sql.length;
  const skipQuoted = (quote: string, backslash: boolean) => {
    i++;
    while (i < n) {
      const c = sql[i]!;
      if (backslash && c === '\\') { i += 2; continue; }
      if (c === quote) {
        if (sql[i + 1] === quote) { i += 2; continue; }
        i++;
        return;
      }
      i++;
    }
  };
  while (i < n) {
    const c = sql[i]!;
    if (c === '\'') {
      const prefix = i > 0 ? sql[i - 1]! : '';
      skipQuoted('\'', mysql || (family === 'postgres' && /[eE]/.test(prefix) && (i < 2 || !isWordChar(sql.charCodeAt(i - 2)))));
    } else if (c === '"') {
      skipQuoted('"', mysql);
    } else if (c === '`') {
      skipQuoted('`', false);
    } else if (c === '[' && family === 'sqlite') {
      const close = sql.indexOf(']', i + 1);
      i = close < 0 ? n : close + 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === '#' && mysql) {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
    } else if (c === '$' && family === 'postgres' && (i === 0 || !isWordChar(sql.charCodeAt(i - 1))) && /^\$(?:[A-Za-z_]\w*)?\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$(?:[A-Za-z_]\w*)?\$/.exec(sql.slice(i, i + 64))![0];
      const close = sql.indexOf(tag, i + tag.length);
      i = close < 0 ? n : close + tag.length;
    } else if (isWordStart(sql.charCodeAt(i))) {
      const start = i;
      while (i < n && isWordChar(sql.charCodeAt(i))) i++;
      out.push({ text: sql.slice(start, i).toUpperCase(), start, end: i, depth, word: true });
    } else if (c === '(' || c === ')' || c === ';' || c === ',') {
      if (c === ')') depth = Math.max(0, depth - 1);
      out.push({ text: c, start: i, end: i + 1, depth, word: false });
      if (c === '(') depth++;
      i++;
    } else {
      i++;
    }
  }
  return out;
}

interface Statement {
  sql: string;
  tokens: Token[];
}

/** Splits on top-level `;` (outside strings, quoted names, comments, parentheses). */
function splitStatements(sql: string, family: Family): Statement[] {
  const tokens = tokenize(sql, family);
  const out: Statement[] = [];
  let from = 0;
  let first = 0;
  const push = (to: number, last: number) => {
    const text = sql.slice(from, to);
    if (text.trim()) out.push({ sql: text, tokens: rebase(tokens.slice(first, last), from) });
  };
  tokens.forEach((token, index) => {
    if (token.text === ';' && token.depth === 0) {
      push(token.start, index);
      from = token.end;
      first = index + 1;
    }
  });
  push(sql.length, tokens.length);
  return out;
}

function rebase(tokens: Token[], offset: number): Token[] {
  return offset === 0 ? tokens : tokens.map((t) => ({ ...t, start: t.start - offset, end: t.end - offset }));
}

/** Statements longer than this have their VALUES rows cut to the first before parsing. */
const COMPACT_OVER = 2048;

/**
 * Removes from a statement what names no written table, so that the parser reads less and knows
 * more: the rows of a long VALUES list after the first (a bulk insert); clauses some grammars
 * miss (a top-level RETURNING, the read-only sources of a DELETE … USING / UPDATE … FROM,
 * SQLite's ON CONFLICT); PostgreSQL's `ONLY`, which they read as a table name.
 */
function normalize(statement: Statement, family: Family): string {
  const { sql, tokens } = statement;
  const cuts: Array<[number, number]> = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.depth !== 0 || !t.word) continue;
    if (t.text === 'RETURNING' && k > 0) {
      cuts.push([t.start, sql.length]);
      break;
    }
    // `DELETE FROM a USING b` (PostgreSQL) and `UPDATE a SET … FROM b` (SQLite): b is only
    // read, and the grammars miss these clauses, so they go (up to WHERE / RETURNING / ORDER).
    if ((t.text === 'USING' && family === 'postgres' && tokens[0]?.text === 'DELETE')
      || (t.text === 'FROM' && family === 'sqlite' && tokens[0]?.text === 'UPDATE' && k > 0)) {
      let j = k + 1;
      while (j < tokens.length && !(tokens[j]!.depth === 0 && ['WHERE', 'RETURNING', 'ORDER', 'LIMIT'].includes(tokens[j]!.text))) j++;
      cuts.push([t.start, j < tokens.length ? tokens[j]!.start : sql.length]);
      k = j - 1;
      continue;
    }
    // SQLite's upsert clause, which its grammar misses: it writes only the INSERT's table.
    if (t.text === 'ON' && family === 'sqlite' && tokens[k + 1]?.text === 'CONFLICT' && ['INSERT', 'REPLACE'].includes(tokens[0]?.text ?? '')) {
      cuts.push([t.start, sql.length]);
      break;
    }
    if (t.text === 'ONLY' && family === 'postgres' && ['FROM', 'UPDATE', 'TABLE', 'TRUNCATE', ','].includes(tokens[k - 1]?.text ?? '')) {
      cuts.push([t.start, t.end]);
    }
    if ((t.text === 'VALUES' || t.text === 'VALUE') && sql.length > COMPACT_OVER && tokens[k + 1]?.text === '(') {
      // Past the first row: while `, (` follows a closed row, skip that row too.
      let j = closing(tokens, k + 1);
      const firstEnd = j < 0 ? -1 : tokens[j]!.end;
      while (j >= 0 && tokens[j + 1]?.text === ',' && tokens[j + 2]?.text === '(' && tokens[j + 2]!.depth === 0) j = closing(tokens, j + 2);
      if (j >= 0 && firstEnd >= 0 && tokens[j]!.end > firstEnd) {
        cuts.push([firstEnd, tokens[j]!.end]);
        k = j;
      }
    }
  }
  if (cuts.length === 0) return sql;
  let out = '';
  let at = 0;
  for (const [from, to] of cuts) {
    out += sql.slice(at, from) + ' ';
    at = to;
  }
  return out + sql.slice(at);
}

/** Index of the `)` that closes the `(` at `open`, or -1. */
function closing(tokens: Token[], open: number): number {
  const depth = tokens[open]!.depth;
  for (let j = open + 1; j < tokens.length; j++) if (tokens[j]!.text === ')' && tokens[j]!.depth === depth) return j;
  return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing                                                                                    */
/* ------------------------------------------------------------------------------------------ */

interface Parser {
  astify(sql: string, options: { database: string }): unknown;
}

/**
 * Sequelize dialect -> node-sql-parser's grammar build and database option. Other dialects are
 * read with the MySQL grammar: what it cannot read widens.
 */
const GRAMMARS: Record<string, [build: string, database: string, family: Family]> = {
  postgres: ['postgresql', 'PostgresQL', 'postgres'],
  sqlite: ['sqlite', 'Sqlite', 'sqlite'],
  mariadb: ['mariadb', 'MariaDB', 'mysql'],
  mysql: ['mysql', 'MySQL', 'mysql'],
  mssql: ['transactsql', 'TransactSQL', 'other'],
  db2: ['db2', 'Db2', 'other'],
};

const parsers = new Map<string, Parser>();
const requireFromHere = createRequire(import.meta.url);

/** Loads one grammar on first use: each build is a few hundred kB, and most apps need one. */
function parserFor(build: string): Parser {
  let parser = parsers.get(build);
  if (!parser) {
    const module = requireFromHere(`node-sql-parser/build/${build}`) as { Parser: new () => Parser };
    parser = new module.Parser();
    parsers.set(build, parser);
  }
  return parser;
}

/** @internal The tables `sql` writes, read with the grammar of `dialect` (a Sequelize dialect name). */
export function readWrites(sql: string, dialect: string | undefined): SqlWrites {
  if (typeof sql !== 'string' || !mayWrite(sql)) return { tables: [] };
  const [build, database, family] = GRAMMARS[dialect ?? ''] ?? GRAMMARS.mysql!;
  const tables: WrittenTable[] = [];
  for (const statement of splitStatements(sql, family)) {
    const leader = statement.tokens[0]?.text;
    if (leader === undefined || !WRITE_LEADERS.has(leader)) continue;
    if (leader === 'DROP' && dropsNoRows(statement.tokens)) continue;
    const problem = readStatement(statement, family, build, database, tables);
    if (problem !== undefined) return { tables, unreadable: problem };
  }
  return { tables };
}

/** Object kinds whose DROP removes no rows, unless CASCADE takes dependent columns or tables along. */
const ROWLESS_KINDS = new Set(['INDEX', 'VIEW', 'MATERIALIZED', 'FUNCTION', 'PROCEDURE', 'TRIGGER', 'SEQUENCE', 'TYPE', 'EVENT', 'ROLE', 'USER', 'DOMAIN']);

function dropsNoRows(tokens: Token[]): boolean {
  return ROWLESS_KINDS.has(tokens[1]?.text ?? '') && !tokens.some((t) => t.word && t.text === 'CASCADE');
}

/** Reads one statement into `out`; returns why it could not be read, if so. */
function readStatement(statement: Statement, family: Family, build: string, database: string, out: WrittenTable[]): string | undefined {
  let ast: unknown;
  try {
    ast = parserFor(build).astify(normalize(statement, family), { database });
  } catch (error) {
    // A WITH the grammar cannot read as a whole (a DELETE in a CTE, a WITH before DELETE on
    // SQLite): read each CTE body and the main statement on their own.
    if (statement.tokens[0]?.text === 'WITH') {
      const parts = splitWith(statement);
      if (parts) {
        for (const part of parts) {
          const problem = readStatement(part, family, build, database, out);
          if (problem !== undefined) return problem;
        }
        return undefined;
      }
    }
    return `${statement.tokens[0]?.text ?? ''} statement not understood by the ${database} grammar (${error instanceof Error ? error.message.slice(0, 120) : String(error)})`;
  }
  for (const node of Array.isArray(ast) ? ast : [ast]) {
    const problem = walk(node, out);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * `WITH a AS (…), b AS (…) main`: the CTE bodies and the main statement as statements of their
 * own (a CTE's name in the main statement then reads as a table, which is only ever read).
 */
function splitWith(statement: Statement): Statement[] | undefined {
  const { sql, tokens } = statement;
  const parts: Statement[] = [];
  let k = 1;
  if (tokens[k]?.text === 'RECURSIVE') k++;
  for (;;) {
    // name [(columns)] AS [NOT] [MATERIALIZED] ( body )
    if (!tokens[k]?.word) return undefined;
    k++;
    if (tokens[k]?.text === '(') k = closing(tokens, k) + 1;
    if (k <= 0 || tokens[k]?.text !== 'AS') return undefined;
    k++;
    if (tokens[k]?.text === 'NOT') k++;
    if (tokens[k]?.text === 'MATERIALIZED') k++;
    if (tokens[k]?.text !== '(') return undefined;
    const close = closing(tokens, k);
    if (close < 0) return undefined;
    parts.push(slice(sql, tokens, k + 1, close, tokens[k]!.end, tokens[close]!.start));
    k = close + 1;
    if (tokens[k]?.text !== ',') break;
    k++;
  }
  if (k >= tokens.length) return undefined;
  parts.push(slice(sql, tokens, k, tokens.length, tokens[k]!.start, sql.length));
  return parts;
}

function slice(sql: string, tokens: Token[], from: number, to: number, start: number, end: number): Statement {
  const depth = tokens[from]?.depth ?? 0;
  return {
    sql: sql.slice(start, end),
    tokens: tokens.slice(from, to).map((t) => ({ ...t, start: t.start - start, end: t.end - start, depth: t.depth - depth })),
  };
}

/* ------------------------------------------------------------------------------------------ */
/* The syntax tree                                                                            */
/* ------------------------------------------------------------------------------------------ */

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
function walk(node: unknown, out: WrittenTable[]): string | undefined {
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
