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
import { closing, normalize, splitStatements, type Family, type Statement, type Token } from './sql-lexer.js';
import { walk } from './sql-tree.js';

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
