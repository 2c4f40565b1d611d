/**
 * Canonical tag strings. Every dependency compiles to one or more of these, on the write path and
 * on the invalidate path alike, so both sides always agree. The Redis scripts rebuild conjunction
 * tags from schemes with the same rules (see lua/invalidate.lua), so keep the two in step.
 *
 *   u:<tag>                           a user tag (string dependency)
 *   t:<table>                         the whole table: entries that change on any write to it
 *   a:<table>|<scheme>                every entry with a conjunction of that scheme on the table
 *   c:<table>|<f1>=<v1>&<f2>=<v2>     an equality conjunction; fields in scheme order
 *
 * `escape` removes the separators `| = & %` from names and values, so no two distinct
 * dependencies share a tag.
 */

import { BadDependencyError } from './errors.js';

const ESCAPES: Record<string, string> = { '%': '%25', '|': '%7C', '=': '%3D', '&': '%26' };

export function escape(text: string): string {
  return text.replace(/[%|=&]/g, (ch) => ESCAPES[ch]!);
}

export const userTag = (tag: string): string => `u:${tag}`;

export function unescape(text: string): string {
  return text.replace(/%(25|7C|3D|26)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * A tag taken apart: its kind, its table (unescaped) and, for scheme and conjunction tags, the
 * scheme, its fields (escaped, as in the tag) and the conjunction's encoded values.
 */
export type ParsedTag =
  | { kind: 'user'; name: string }
  | { kind: 'table'; table: string }
  | { kind: 'scheme'; table: string; scheme: string; fields: string[] }
  | { kind: 'conjunction'; table: string; scheme: string; fields: string[]; values: string[] };

/** Parses a tag built by this module; undefined for anything else. */
export function parseTag(tag: string): ParsedTag | undefined {
  const prefix = tag.slice(0, 2);
  if (prefix === 'u:') return { kind: 'user', name: tag.slice(2) };
  if (prefix === 't:') return { kind: 'table', table: unescape(tag.slice(2)) };
  if (prefix !== 'a:' && prefix !== 'c:') return undefined;
  const bar = tag.indexOf('|');
  if (bar < 0) return undefined;
  const table = unescape(tag.slice(2, bar));
  const rest = tag.slice(bar + 1);
  if (prefix === 'a:') return { kind: 'scheme', table, scheme: rest, fields: rest.split('&') };
  const fields: string[] = [];
  const values: string[] = [];
  for (const pair of rest.split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0) return undefined;
    fields.push(pair.slice(0, eq));
    values.push(pair.slice(eq + 1));
  }
  return { kind: 'conjunction', table, scheme: schemeOf(fields), fields, values };
}

/** The table a table, scheme or conjunction tag belongs to; undefined for user tags. */
export function tableOfTag(tag: string): string | undefined {
  const parsed = parseTag(tag);
  return parsed && parsed.kind !== 'user' ? parsed.table : undefined;
}
export const tableTag = (table: string): string => `t:${escape(table)}`;
/** Entries whose conjunction on `table` uses `scheme`: what a change with unknown values must reach. */
export const anySchemeTag = (table: string, scheme: string): string => `a:${escape(table)}|${scheme}`;

/**
 * Encodes one column value type-stably: the first character says the type, so `1` and `'1'`
 * never meet; numbers and bigints share one form because they are the same integer in SQL.
 */
export function encodeValue(value: unknown, describe: () => string): string {
  switch (typeof value) {
    case 'string':
      return `s${escape(value)}`;
    case 'number':
      if (Number.isNaN(value)) throw new BadDependencyError(describe(), value, `${describe()} is NaN, which never equals a stored value`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) return `n${BigInt(value).toString()}`;
      return `n${Object.is(value, -0) ? '0' : String(value)}`;
    case 'bigint':
      return `n${value.toString()}`;
    case 'boolean':
      return value ? 'b1' : 'b0';
    case 'object':
      if (value === null) return 'z';
      if (value instanceof Date) {
        const ms = value.getTime();
        if (Number.isNaN(ms)) throw new BadDependencyError(describe(), value, `${describe()} is an invalid Date`);
        return `d${ms}`;
      }
      if (value instanceof Uint8Array) return `x${Buffer.from(value).toString('hex')}`;
      break;
    default:
      break;
  }
  throw new BadDependencyError(describe(), value, `${describe()} has a value of unsupported type (${typeName(value)}); use a string, number, bigint, boolean, null, Date or Buffer`);
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

/** One encoded conjunction: the fields in canonical order and their encoded values. */
export interface EncodedConjunction {
  table: string;
  /** escaped field names, sorted */
  fields: string[];
  /** encoded values, parallel to `fields` */
  values: string[];
}

/** The scheme of a conjunction: its field set, as stored in the scheme registry. */
export const schemeOf = (fields: readonly string[]): string => fields.join('&');

export function conjunctionTag(table: string, fields: readonly string[], values: readonly string[]): string {
  if (fields.length === 0) return tableTag(table);
  let tag = `c:${escape(table)}|`;
  for (let i = 0; i < fields.length; i++) tag += `${i ? '&' : ''}${fields[i]}=${values[i]}`;
  return tag;
}

/**
 * Tags a row change invalidates: the table tag plus, for every scheme in use on that table, the
 * conjunction built from each row image (old and new values). A row image that lacks a field of
 * some scheme cannot be matched exactly, so the change falls back to every entry of that scheme;
 * a row image with no values at all is a change to the whole table.
 * The memory backend and the Sequelize collector (`touches`) use this rule; lua/invalidate.lua
 * mirrors it for Redis, and test/properties.test.ts checks that they agree.
 */
export function rowChangeTags(table: string, rows: ReadonlyArray<Record<string, string>>, schemes: Iterable<string>): string[] {
  const tags = new Set<string>([tableTag(table)]);
  for (const scheme of schemes) {
    if (scheme === '') continue;
    const fields = scheme.split('&');
    for (const row of rows) {
      const values: string[] = [];
      for (const f of fields) {
        const v = row[f];
        if (v === undefined) break;
        values.push(v);
      }
      if (values.length === fields.length) tags.add(conjunctionTag(table, fields, values));
      else tags.add(anySchemeTag(table, scheme));
    }
  }
  return [...tags];
}
