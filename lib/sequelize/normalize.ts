/**
 * Column types and value normalization: how values of a column compare, so that equal database
 * values always encode to the same tag whichever driver or caller produced them.
 * @internal
 */
import type { WhereValue } from '../dependencies.js';
import type { AttributeLike } from './model.js';

/**
 * @internal How values of a column are compared; undefined = not usable in an equality conjunction.
 * `date/<trunc|round>/<ms>`: a date the database stores to a coarser unit than the millisecond
 * (the MySQL family's DATETIME and TIMESTAMP keep whole seconds unless a precision is given).
 * `folded-string`: text the database compares case- and accent-insensitively, ignoring trailing
 * spaces (the MySQL family's default collations): folded at least as coarsely, so values it
 * counts as equal always meet (a coarser fold only widens an invalidation).
 */
export type Norm = 'int' | 'float' | 'bool' | 'date' | 'dateonly' | 'string' | 'ci-string' | 'folded-string' | 'uuid' | 'blob'
  | `date/${'trunc' | 'round'}/${number}`;

const TYPE_NORMS: Record<string, Norm> = {
  INTEGER: 'int', BIGINT: 'int', SMALLINT: 'int', MEDIUMINT: 'int', TINYINT: 'int', INT: 'int',
  FLOAT: 'float', DOUBLE: 'float', 'DOUBLE PRECISION': 'float', REAL: 'float', DECIMAL: 'float', NUMERIC: 'float',
  BOOLEAN: 'bool', BOOL: 'bool',
  DATE: 'date', TIMESTAMP: 'date', TIMESTAMPTZ: 'date', DATETIME: 'date', NOW: 'date',
  DATEONLY: 'dateonly',
  STRING: 'string', TEXT: 'string', CHAR: 'string', VARCHAR: 'string', ENUM: 'string', TIME: 'string',
  INET: 'string', CIDR: 'string', MACADDR: 'string',
  CITEXT: 'ci-string',
  UUID: 'uuid', UUIDV1: 'uuid', UUIDV4: 'uuid',
  BLOB: 'blob', BYTEA: 'blob',
};

/** @internal The type key of an attribute's type (`'INTEGER'`, `'STRING'`…), also for `type: 'VARCHAR(20)'`. */
export function typeKey(type: unknown): string | undefined {
  if (type === undefined || type === null) return undefined;
  if (typeof type === 'string') return /^\s*([A-Za-z ]+?)\s*(\(|$)/.exec(type)?.[1]?.toUpperCase();
  const t = type as { key?: unknown; constructor?: { key?: unknown } };
  if (typeof t.key === 'string') return t.key.toUpperCase();
  if (typeof t.constructor?.key === 'string') return t.constructor.key.toUpperCase();
  return undefined;
}

/**
 * @internal How a column's values compare on `dialect`. Dates on the MySQL family keep as many
 * fractional digits as the type's precision (none by default): MariaDB truncates the rest,
 * MySQL rounds it, so values compare at that unit, the way the database stored them.
 */
export function normOf(attribute: AttributeLike, dialect?: string): Norm | undefined {
  const key = typeKey(attribute.type);
  const norm = key === undefined ? undefined : TYPE_NORMS[key];
  const binary = (attribute.type as { options?: { binary?: unknown }; _binary?: unknown } | undefined);
  if (norm === 'string' && (dialect === 'mariadb' || dialect === 'mysql') && !binary?.options?.binary && !binary?._binary) return 'folded-string';
  if (norm === 'date' && (dialect === 'mariadb' || dialect === 'mysql')) {
    const precision = Number((attribute.type as { _length?: unknown } | undefined)?._length ?? 0);
    if (Number.isInteger(precision) && precision >= 0 && precision < 3) return `date/${dialect === 'mysql' ? 'round' : 'trunc'}/${10 ** (3 - precision)}`;
  }
  return norm;
}

const INTEGER_TEXT = /^\s*[+-]?\d+\s*$/;
/** @internal */
export const NOT_NORMALIZABLE = Symbol('not normalizable');

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * Normalizes one column value so that equal database values always encode alike:
 * integers (number, bigint, '7') -> number (bigint beyond 2^53); floats and decimals ('1.50') ->
 * number; booleans (true, 1, '1', 't', 'true') -> boolean; dates (Date, ISO or SQLite strings,
 * epoch ms) -> Date; DATEONLY -> 'YYYY-MM-DD'; strings as they are (numbers -> decimal text);
 * CITEXT lower-cased; UUID lower-cased; blobs -> Buffer; null -> null.
 * Returns NOT_NORMALIZABLE for a value that the column cannot hold as an equality literal.
 * @internal
 */
export function normalizeValue(norm: Norm, value: unknown): WhereValue | typeof NOT_NORMALIZABLE {
  if (value === null) return null;
  switch (norm) {
    case 'int': {
      if (typeof value === 'number') return Number.isNaN(value) ? NOT_NORMALIZABLE : value;
      if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
      if (typeof value === 'string' && INTEGER_TEXT.test(value)) {
        const big = BigInt(value.trim());
        return Number.isSafeInteger(Number(big)) ? Number(big) : big;
      }
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
      if (typeof value === 'boolean') return value ? 1 : 0;
      return NOT_NORMALIZABLE;
    }
    case 'float': {
      if (typeof value === 'number') return Number.isNaN(value) ? NOT_NORMALIZABLE : value;
      if (typeof value === 'bigint') return Number(value);
      if (typeof value === 'string' && value.trim() !== '') {
        const n = Number(value);
        return Number.isNaN(n) ? NOT_NORMALIZABLE : n;
      }
      return NOT_NORMALIZABLE;
    }
    case 'bool': {
      if (typeof value === 'boolean') return value;
      if (value === 1 || value === 1n) return true;
      if (value === 0 || value === 0n) return false;
      if (typeof value === 'string') {
        const v = value.trim().toLowerCase();
        if (v === '1' || v === 't' || v === 'true') return true;
        if (v === '0' || v === 'f' || v === 'false') return false;
      }
      return NOT_NORMALIZABLE;
    }
    case 'date': {
      let date: Date | undefined;
      if (value instanceof Date) date = value;
      else if (typeof value === 'string' && value.trim() !== '') date = new Date(value);
      else if (typeof value === 'number') date = new Date(value);
      if (!date || Number.isNaN(date.getTime())) return NOT_NORMALIZABLE;
      return date;
    }
    case 'dateonly': {
      if (typeof value === 'string') {
        const m = /^\s*(\d{4}-\d{2}-\d{2})/.exec(value);
        return m ? m[1]! : NOT_NORMALIZABLE;
      }
      if (value instanceof Date && !Number.isNaN(value.getTime())) {
        // Sequelize formats a Date for DATEONLY in local time (moment(value).format('YYYY-MM-DD')).
        return `${pad(value.getFullYear(), 4)}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
      }
      return NOT_NORMALIZABLE;
    }
    case 'string':
    case 'ci-string':
    case 'folded-string':
    case 'uuid': {
      let s: string;
      if (typeof value === 'string') s = value;
      else if (typeof value === 'number' && Number.isFinite(value)) s = String(value);
      else if (typeof value === 'bigint') s = value.toString();
      else return NOT_NORMALIZABLE;
      if (norm === 'string') return s;
      if (norm === 'folded-string') return fold(s);
      // A UUID column reads '{A0EE…}' and 'a0ee…' without dashes as the same value.
      return norm === 'uuid' ? s.toLowerCase().replace(/[{}-]/g, '') : s.toLowerCase();
    }
    case 'blob': {
      if (value instanceof Uint8Array) return Buffer.from(value);
      if (typeof value === 'string') return Buffer.from(value);
      return NOT_NORMALIZABLE;
    }
    default: {
      if (norm.startsWith('date/')) {
        const date = normalizeValue('date', value);
        if (!(date instanceof Date)) return date;
        const [, mode, unit] = norm.split('/');
        const units = date.getTime() / Number(unit);
        return new Date((mode === 'round' ? Math.round(units) : Math.floor(units)) * Number(unit));
      }
      return NOT_NORMALIZABLE;
    }
  }
}

/** Letters some default collations count equal to others ('ß' is 's' in one, 'ss' in another). */
const LIGATURES: Record<string, string> = { 'ß': 's', 'æ': 'ae', 'œ': 'oe', 'ø': 'o', 'đ': 'd', 'ł': 'l', 'þ': 'th' };

/**
 * Case, accents, compatibility forms and trailing spaces folded away (see `folded-string`); runs
 * of 's' become one, so that 'ß', 's' and 'ss' meet whichever of those collations compares them.
 */
function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().replace(/[ßæœøđłþ]/g, (ch) => LIGATURES[ch]!).replace(/s+/g, 's').replace(/ +$/, '');
}

/** @internal Two normalized values are the same database value. */
export function sameValue(a: WhereValue, b: WhereValue): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  return a === b;
}
