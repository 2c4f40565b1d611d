/**
 * The lexical side of reading SQL for the safety net: tokens outside strings, quoted names and
 * comments, statements split on top-level `;`, and a statement cut down to what names written
 * tables before the parser sees it.
 * @internal
 */
export type Family = 'postgres' | 'mysql' | 'sqlite' | 'other';

export interface Token {
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

export interface Statement {
  sql: string;
  tokens: Token[];
}

/** Splits on top-level `;` (outside strings, quoted names, comments, parentheses). */
export function splitStatements(sql: string, family: Family): Statement[] {
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
export function normalize(statement: Statement, family: Family): string {
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
export function closing(tokens: Token[], open: number): number {
  const depth = tokens[open]!.depth;
  for (let j = open + 1; j < tokens.length; j++) if (tokens[j]!.text === ')' && tokens[j]!.depth === depth) return j;
  return -1;
}
