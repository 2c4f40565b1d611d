import type { Capture, WriteEntry } from '../backend.js';
import type { Invalidation } from '../../dependencies.js';
import { escape } from '../../tags.js';
import { scripts as lua } from '../../lua/index.js';
import { headerText, unframe } from './frame.js';
import { nullableStrings } from './replies.js';
import type { RedisClient } from './layout.js';

/**
 * The Lua scripts as typed calls. Each script's positional ARGV layout (documented at the top of
 * its .lua file) is written here once, in its encoder; its reply is read once, in its decoder.
 * Every script takes one key, KEYS[1]: a bucket prefix, which routes the call on a cluster.
 */

/** A script's ARGV. ioredis flattens an array argument into the command, so none is spread. */
export type Args = Array<string | number>;

export type CommandName =
  | 'keyvCleverSet' | 'keyvCleverMget' | 'keyvCleverDelete' | 'keyvCleverInvalidate' | 'keyvCleverSweep'
  | 'keyvCleverEntries' | 'keyvCleverCapture' | 'keyvCleverUnlock' | 'keyvCleverRegister';

export interface Script<In, Out> {
  /** the command ioredis defines for it (EVALSHA with automatic script loading) */
  readonly command: CommandName;
  readonly lua: string;
  encode(input: In): Args;
  decode(reply: unknown): Out;
}

/** The client, or one of its pipelines, once the scripts are defined on it. */
export type ScriptTarget = Record<CommandName, (routing: string, args: Args) => unknown>;

/** Entries to write, grouped by bucket: the bucket's prefix and the bucket count they were placed with. */
export type SetGroup = [p: string, count: number, entries: WriteEntry[]];

/** Written (one flag per entry, in order), or refused whole: a bucket holds another count than its group's. */
export type SetReply = { refused: false; written: boolean[] } | { refused: true; recorded: number };

/** How set.lua reads an entry (see its header): the fewer arguments, the less the client spends per write. */
type SetKind = 'p' | 't' | 'f';

const kindOf = (e: WriteEntry): SetKind => (e.guards?.length || e.unlock || e.deps.schemes.length > 0 ? 'f' : e.deps.tags.length > 0 ? 't' : 'p');

/** Appends one entry in its kind's layout. */
function pushEntry(args: Args, kind: SetKind, e: WriteEntry): void {
  const { tags, schemes } = e.deps;
  if (kind === 'p') {
    args.push(e.key, e.value, e.ttl ?? 0);
    return;
  }
  if (kind === 't') {
    args.push(e.key, e.value, e.ttl ?? 0, headerText(tags));
    return;
  }
  args.push(e.key, e.value, e.ttl ?? 0, tags.length);
  if (tags.length > 0) args.push(headerText(tags));
  args.push(schemes.length);
  for (const [table, scheme] of schemes) args.push(table, scheme);
  const guards = e.guards ?? [];
  args.push(guards.length);
  for (const [tag, generation] of guards) args.push(tag, generation);
  args.push(e.unlock ?? '');
}

export const setScript: Script<SetGroup[], SetReply> = {
  command: 'keyvCleverSet',
  lua: lua.set,
  encode(groups) {
    const args: Args = [groups.length];
    for (const [p, count] of groups) args.push(p, count);
    for (const [, , entries] of groups) {
      // Runs of entries of one kind, in the order given: a later write of a key stays later.
      const runsAt = args.length;
      args.push(0);
      let runs = 0;
      let countAt = -1;
      let current: SetKind | undefined;
      for (const e of entries) {
        const kind = kindOf(e);
        if (kind !== current) {
          current = kind;
          runs++;
          args.push(kind, 0);
          countAt = args.length - 1;
        }
        (args[countAt] as number)++;
        pushEntry(args, kind, e);
      }
      args[runsAt] = runs;
    }
    return args;
  },
  decode(reply) {
    const flags = reply as number[];
    if (flags[0] === -1) return { refused: true, recorded: Number(flags[1]) };
    return { refused: false, written: flags.map((flag) => flag === 1) };
  },
};

/** The keys to read, per bucket (all served by one Redis process); the values in the same order. */
export const mgetScript: Script<ReadonlyArray<{ gets: ReadonlyArray<{ key: string }> }>, Array<string | null>> = {
  command: 'keyvCleverMget',
  lua: lua.mget,
  encode(buckets) {
    // (a plain loop: on the hot path)
    const args: Args = [];
    for (const b of buckets) {
      args.push(b.gets.length);
      for (const g of b.gets) args.push(g.key);
    }
    return args;
  },
  decode: nullableStrings,
};

export const deleteScript: Script<string[], { removed: number; recorded: number }> = {
  command: 'keyvCleverDelete',
  lua: lua.delete,
  encode: (keys) => keys,
  decode(reply) {
    const [removed, recorded] = reply as [number, number];
    return { removed, recorded };
  },
};

/** One changed row's part of the invalidation script's ARGV (see encodeRow). */
export type EncodedRow = Args;

/** A changed row as the invalidation script reads it: table, nfields, (field, value)*. */
export function encodeRow(row: Invalidation['rows'][number]): EncodedRow {
  return encodeRowFields(row, undefined, escape(row.table));
}

/** As encodeRow, with only the fields in `keep` (all if undefined), the table escaped by the caller. */
export function encodeRowFields(row: Invalidation['rows'][number], keep: ReadonlySet<string> | undefined, table: string): EncodedRow {
  const args: Args = [table, 0];
  for (const field in row.values) if (!keep || keep.has(field)) args.push(field, row.values[field]!);
  args[1] = (args.length - 2) / 2;
  return args;
}

export interface InvalidateInput {
  /** most entries the call deletes */
  limit: number;
  /** ms after which the call stops */
  budget: number;
  raceWindow: number;
  tags: readonly string[];
  /** [escaped table, escaped fields]: the tables whose rows carry only these fields */
  cut?: ReadonlyArray<readonly [table: string, fields: readonly string[]]>;
  rows: readonly EncodedRow[];
}

export interface InvalidateReply {
  removed: number;
  /** the bucket count recorded in the bucket (0 = none) */
  recorded: number;
  /** how many of the rows sent (the first ones) became tags; -1: refused, a scheme names a field a cut table's rows lack */
  rowsDone: number;
  /** replicas connected to the Redis process the call ran on */
  replicas: number;
  /** tags not done: not reached, or still holding members */
  tags: string[];
}

export const invalidateScript: Script<InvalidateInput, InvalidateReply> = {
  command: 'keyvCleverInvalidate',
  lua: lua.invalidate,
  encode({ limit, budget, raceWindow, tags, cut = [], rows }) {
    const args: Args = [limit, budget, raceWindow, tags.length];
    for (const tag of tags) args.push(tag);
    args.push(cut.length);
    for (const [table, fields] of cut) {
      args.push(table, fields.length);
      for (const field of fields) args.push(field);
    }
    args.push(rows.length);
    for (const row of rows) for (const arg of row) args.push(arg);
    return args;
  },
  decode(reply) {
    const list = reply as Array<number | string>;
    return {
      removed: Number(list[0]),
      recorded: Number(list[1]),
      rowsDone: Number(list[2]),
      replicas: Number(list[3]),
      tags: list.slice(4).map(String),
    };
  },
};

/** A bucket's index structures to prune: sorted-set tags, and page numbers (the <n> of p:<n>). */
export const sweepScript: Script<{ sorted: string[]; pages: string[] }, number> = {
  command: 'keyvCleverSweep',
  lua: lua.sweep,
  encode: ({ sorted, pages }) => ([sorted.length] as Args).concat(sorted, pages),
  decode: (reply) => Number(reply),
};

export const entriesScript: Script<string[], string[]> = {
  command: 'keyvCleverEntries',
  lua: lua.entries,
  encode: (tags) => tags,
  decode: (reply) => reply as string[],
};

export interface CaptureInput {
  key: string;
  lock: { token: string; ttl: number } | undefined;
  /** the value is past its freshness (kept for grace): count the key as missing */
  skipValue?: boolean;
  schemes: ReadonlyArray<readonly [table: string, scheme: string]>;
  tags: readonly string[];
}

export const captureScript: Script<CaptureInput, Capture> = {
  command: 'keyvCleverCapture',
  lua: lua.capture,
  encode({ key, lock, skipValue, schemes, tags }) {
    const args: Args = [key, lock?.token ?? '', lock?.ttl ?? 0, skipValue ? '1' : '', schemes.length];
    for (const [table, scheme] of schemes) args.push(table, scheme);
    for (const tag of tags) args.push(tag);
    return args;
  },
  decode(reply) {
    const list = reply as Array<number | string>;
    if (list[0] === 2) return { kind: 'value', value: unframe(String(list[1])) };
    return { kind: 'miss', locked: list[0] === 1, generations: list.slice(1).map(Number) };
  },
};

/** Whether the lock was released (this token still held it). */
export const unlockScript: Script<{ key: string; token: string }, boolean> = {
  command: 'keyvCleverUnlock',
  lua: lua.unlock,
  encode: ({ key, token }) => [key, token],
  decode: (reply) => Number(reply) === 1,
};

/** The count to record (if none is); the count recorded. */
export const registerScript: Script<number, number> = {
  command: 'keyvCleverRegister',
  lua: lua.register,
  encode: (count) => [count],
  decode: (reply) => Number(reply),
};

const ALL: ReadonlyArray<Script<never, unknown>> = [
  setScript, mgetScript, deleteScript, invalidateScript, sweepScript, entriesScript, captureScript, unlockScript, registerScript,
];

/** Defines every script's command on the client (its pipelines get them too). */
export function defineScripts(client: RedisClient): void {
  for (const { command, lua: source } of ALL) client.defineCommand(command, { numberOfKeys: 1, lua: source });
}

/** Queues a script call on a target (the client, or a pipeline); returns what the target returns. */
export function sendScript<In, Out>(target: ScriptTarget, script: Script<In, Out>, routing: string, input: In): unknown {
  return target[script.command](routing, script.encode(input));
}

/** Runs a script on the client (defineScripts first) and decodes its reply. */
export async function runScript<In, Out>(client: RedisClient, script: Script<In, Out>, routing: string, input: In): Promise<Out> {
  return script.decode(await sendScript(client as unknown as ScriptTarget, script, routing, input));
}
