/**
 * Column values as JSON-safe data and back, so that a cached result survives any Keyv serializer
 * with the exact JavaScript types Sequelize gave the uncached query: Dates, bigints, Buffers and
 * non-finite numbers are tagged; JSON column content passes as it is.
 * @internal
 */

/** The one key a tagged value has; a plain object that has it is escaped. */
const TAG = '\u0000';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A value the codec cannot carry (a class instance a getter or hook left in a result). */
export class NotEncodable extends Error {
  constructor(readonly value: unknown) {
    super(`not encodable: ${Object.prototype.toString.call(value)}`);
  }
}

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/**
 * Encodes a value; `child` turns a nested object that is not plain (a model instance inside a
 * result) into plain data first, or returns undefined to refuse it.
 * @internal
 */
export function encode(value: unknown, child?: (value: object) => object | undefined): Json {
  switch (typeof value) {
    case 'string': case 'boolean': return value;
    case 'number': return Number.isFinite(value) && !Object.is(value, -0) ? value : { [TAG]: 'f', v: Object.is(value, -0) ? '-0' : String(value) };
    case 'bigint': return { [TAG]: 'n', v: value.toString() };
    case 'undefined': return { [TAG]: 'u' };
    case 'object': break;
    default: throw new NotEncodable(value);
  }
  if (value === null) return null;
  if (value instanceof Date) {
    const time = value.getTime();
    return { [TAG]: 'd', v: Number.isNaN(time) ? null : time };
  }
  if (Buffer.isBuffer(value)) return { [TAG]: 'b', v: value.toString('base64') };
  if (value instanceof Uint8Array) return { [TAG]: 'y', v: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map((item) => encode(item, child));
  if (!isPlainObject(value)) {
    const plain = child?.(value);
    if (plain === undefined) throw new NotEncodable(value);
    return encode(plain, child);
  }
  const out: Record<string, Json> = {};
  for (const key of Object.keys(value)) out[key] = encode((value as Record<string, unknown>)[key], child);
  return Object.prototype.hasOwnProperty.call(value, TAG) ? { [TAG]: 'o', v: out } : out;
}

/** Decodes what `encode` produced into fresh objects (no two decodes share one). @internal */
export function decode(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decode);
  const record = value as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(record, TAG)) {
    const v = record.v;
    switch (record[TAG]) {
      case 'f': return Number(v);
      case 'n': return BigInt(v as string);
      case 'u': return undefined;
      case 'd': return new Date(v === null ? Number.NaN : (v as number));
      case 'b': return Buffer.from(v as string, 'base64');
      case 'y': return new Uint8Array(Buffer.from(v as string, 'base64'));
      case 'o': return decodeObject(v as Record<string, unknown>);
      default: throw new TypeError(`unknown encoded value tag ${JSON.stringify(record[TAG])}`);
    }
  }
  return decodeObject(record);
}

function decodeObject(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) out[key] = decode(record[key]);
  return out;
}
