/**
 * Replies read the same whichever protocol the caller's client speaks. Under RESP3 a Lua `false`
 * (a missing key inside a script's table) arrives as a boolean instead of a nil, and a map reply
 * (CONFIG GET) as a flat array or, with ioredis's `replyMapping: 'resp3'`, as an object.
 */

/** A list of values from a script: a string, or null for a missing key (RESP2 nil, RESP3 false or null). */
export function nullableStrings(reply: unknown): Array<string | null> {
  return (reply as unknown[]).map((value) => (typeof value === 'string' ? value : null));
}

/** One parameter's value from a `CONFIG GET` reply: a flat `[name, value, …]` list, an object, or a Map. */
export function configValue(reply: unknown, name: string): string | undefined {
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) if (reply[i] === name) return String(reply[i + 1]);
    return undefined;
  }
  if (reply instanceof Map) return reply.has(name) ? String(reply.get(name)) : undefined;
  if (typeof reply === 'object' && reply !== null && name in reply) return String((reply as Record<string, unknown>)[name]);
  return undefined;
}
