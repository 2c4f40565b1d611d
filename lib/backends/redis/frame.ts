/**
 * The frame of a stored value (the Lua side of it lives in lua/edges.lua):
 *   "\x01" + indexedUntil + "\n" + tag1 + "\n" + tag2 ... + "\x02" + value
 * A value without dependencies is stored as is, unless it starts with "\x01": it then gets an
 * empty header ("\x01\x02"). The header escapes `%`, `\n` and `\x02`, so the first `\x02` ends it.
 */

/** The header's separators and their escapes, `%` first (the others' escapes start with it). */
const HEADER_ESCAPES: ReadonlyArray<[string, string]> = [['%', '%25'], ['\n', '%0A'], ['\x02', '%02']];

const escapeOne = (text: string, [ch, escaped]: [string, string]): string => (text.includes(ch) ? text.split(ch).join(escaped) : text);

/**
 * An entry's tags as its value's header lists them: one per line, with the header's separators
 * escaped. Built here, where it costs least, and compared whole by set.lua.
 */
export function headerText(tags: readonly string[]): string {
  return tags.map((tag) => HEADER_ESCAPES.reduce(escapeOne, tag)).join('\n');
}

/** A value stored without dependencies, as set.lua stores it: as is, unless it could pass for a header. */
export const framePlain = (value: string): string => (value.charCodeAt(0) === 1 ? `\x01\x02${value}` : value);

/** A stored value without its header. */
export function unframe(stored: string): string {
  return stored.charCodeAt(0) === 1 ? stored.slice(stored.indexOf('\x02') + 1) : stored;
}

/** A read's reply (null: no such key) without its header. */
export const unframeOrUndefined = (stored: string | null | undefined): string | undefined => (stored == null ? undefined : unframe(stored));
