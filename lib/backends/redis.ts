import type { Cluster, Redis } from 'ioredis';
import type { CompiledDependencies, Invalidation } from '../dependencies.js';
import { escape } from '../tags.js';
import { scripts } from '../lua/index.js';
import { BucketCountMismatchError, BucketCountUnstableError, PartialReadError, ReplicaTimeoutError } from '../errors.js';
import type { Backend, Capture, WriteEntry } from './backend.js';
import { PendingBatches, looseBatch, type Batch, type PendingSet } from './batches.js';

export type RedisClient = Redis | Cluster;

/** The key kinds the store writes after the `{ns:b}` prefix. */
const KINDS = new Set(['v:', 'i:', 'p:', 's:', 'g:', 'l:', 'm:']);

export interface RedisBackendOptions {
  /** number of buckets keys are spread over (1 on a single Redis), unless Redis records another */
  buckets: number;
  /** most entries one invalidation script call deletes */
  invalidateChunk: number;
  /** ms after which one invalidation script call stops (between rows, tags, or slices of 50 entries) */
  invalidateBudget: number;
  /** how long a tag's generation outlives its last invalidation, ms (0 = no generations) */
  raceWindow: number;
  /** SCAN COUNT hint for clear, iterator and sweep */
  scanCount: number;
  /** an invalidation is done once the replicas connected to each Redis process it ran on acknowledge it (WAIT) */
  waitForReplicas: boolean;
  /** ms an invalidation waits for those replicas before it counts as failed */
  replicaTimeout: number;
  /** told when a namespace turns out to be recorded with another bucket count, which the store then uses */
  onBucketMismatch?: (error: BucketCountMismatchError) => void;
}

type Reply = Array<number | string>;

/**
 * Calls the same-tick batches bound for one Redis process hold before they are sent without
 * waiting for the tick to end. Small on purpose: Redis runs the first part while the client still
 * prepares the rest (measured at 50 and 200 concurrent callers: 1.2-1.3x the gets and 1.5x the
 * sets per second of one batch per tick).
 */
const BATCH_LIMIT = 24;

/**
 * Batch commands a cluster node may have in flight: the gets and sets issued meanwhile for that
 * node wait for its reply and then go together. Without it, each node's reply frees a few callers
 * whose next calls spread over every node, and batches shrink to a few calls each (measured at 50
 * concurrent callers on 3 masters: 5.7 calls per command, 11.4 with it; 1.8x -> 1.5x the time per
 * get of a single Redis). A single Redis answers in order, so its batches do not fragment.
 */
const MAX_IN_FLIGHT = 1;

/**
 * Buckets whose count mark a store reads on a cluster before it records a namespace's count (see
 * register): more than any store is likely to be configured with (the default is 16).
 */
const MARKS_PROBED = 64;

/**
 * Changed rows one invalidation call receives at most: Redis reads every argument of a call
 * before the script runs, so a bulk update's rows go a part at a time (the script also stops
 * turning rows into tags at its deadline).
 */
const ROWS_PER_CALL = 200;

/** What a batch's commands are sent to: the client, or a pipeline of the client (cluster). */
interface Sender {
  get(key: string): unknown;
  set(key: string, value: string, px?: 'PX', ttl?: number): unknown;
  mget(keys: string[]): unknown;
  keyvCleverSet(routing: string, args: Array<string | number>): unknown;
  keyvCleverMget(routing: string, args: Array<string | number>): unknown;
}

/** One command of a batch and how its reply (or error) reaches the batch's callers. */
interface Call {
  send: (to: Sender) => unknown;
  settle: (error: unknown, reply: unknown) => void;
}

/** Commands defined on the ioredis client (EVALSHA with automatic script loading). */
interface CleverCommands {
  /** ioredis flattens the argument array into the command; `routing` is the first bucket's prefix */
  keyvCleverSet(routing: string, args: Array<string | number>): Promise<number[]>;
  keyvCleverMget(routing: string, args: Array<string | number>): Promise<Array<string | null>>;
  keyvCleverDelete(prefix: string, ...keys: string[]): Promise<[number, number]>;
  keyvCleverInvalidate(prefix: string, ...args: Array<string | number>): Promise<Reply>;
  keyvCleverSweep(prefix: string, ...args: Array<string | number>): Promise<number>;
  keyvCleverEntries(prefix: string, ...tags: string[]): Promise<string[]>;
  keyvCleverCapture(prefix: string, ...args: Array<string | number>): Promise<Reply>;
  keyvCleverUnlock(prefix: string, key: string, token: string): Promise<number>;
  keyvCleverRegister(prefix: string, buckets: number): Promise<number>;
}

const COMMANDS: Array<[keyof CleverCommands, string]> = [
  ['keyvCleverSet', scripts.set],
  ['keyvCleverMget', scripts.mget],
  ['keyvCleverDelete', scripts.delete],
  ['keyvCleverInvalidate', scripts.invalidate],
  ['keyvCleverSweep', scripts.sweep],
  ['keyvCleverEntries', scripts.entries],
  ['keyvCleverCapture', scripts.capture],
  ['keyvCleverUnlock', scripts.unlock],
  ['keyvCleverRegister', scripts.register],
];

/**
 * Namespaces become part of a hash tag, `{ns:b}`, so they must not contain `{`, `}` or `:`;
 * escaping them keeps every namespace's keys apart from every other's.
 */
export function escapeNamespace(ns: string): string {
  return ns.replace(/[%{}:]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The hash tag `{ns:b}` every key of bucket `b` of a namespace starts with. */
const bucketPrefix = (ns: string, b: number): string => `{${escapeNamespace(ns)}:${b}}`;

const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, (ch) => `\\${ch}`);

/** FNV-1a over UTF-16 code units: stable across processes and platforms. */
export function bucketOf(key: string, buckets: number): number {
  if (buckets === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/**
 * A stored value without the header that lists its tags (see lua/edges.lua): `\x01` + header +
 * `\x02` + value. The header escapes `\x02`, so the first one ends it.
 */
export function unframe(stored: string): string {
  return stored.charCodeAt(0) === 1 ? stored.slice(stored.indexOf('\x02') + 1) : stored;
}

const unframeOrUndefined = (stored: string | null | undefined): string | undefined => (stored == null ? undefined : unframe(stored));

/**
 * Redis layout (one namespace `ns`, bucket `b`, every key carrying the hash tag `{ns:b}`):
 *   {ns:b}v:<key>   the value (string, PX ttl), behind a header listing its tags if it has any
 *   {ns:b}p:<n>     hash, one of 1024 pages: small tags -> their members (key, indexed-until ms)
 *   {ns:b}i:<tag>   sorted set: keys depending on a tag too big for a page, scored by indexed-until
 *   {ns:b}s:<table> set of schemes (field sets) used on that table
 *   {ns:b}g:<tag>   generation counter, kept `raceWindow` ms after the last invalidation
 *   {ns:b}m:        the namespace's bucket count: recorded in bucket 0 by the first writer (see
 *                   register.lua), copied to every bucket, checked by every set script call
 * A key's value and its index entries share a bucket, so every per-key operation is one
 * single-slot script; invalidation runs once per bucket.
 *
 * Every process must place keys with the same bucket count. A store configured with another
 * count than the one recorded adopts the recorded one as soon as a read, set, delete or
 * invalidation tells it, and reports it (onBucketMismatch); a write refused meanwhile is sent again, and an
 * invalidation or delete also covers the recorded buckets, so nothing stale is left behind.
 *
 * Single gets and single-entry sets issued in the same tick are sent together, one MGET and one
 * set script call per bucket: at concurrency the client's cost per command, not Redis, is the
 * limit. On a cluster, a tick's batches for a node that is still answering a batch wait for that
 * reply (MAX_IN_FLIGHT). Every other call first sends what is pending, so commands still reach
 * Redis in the order they were issued (as far as one key can tell).
 */
export class RedisBackend implements Backend {
  readonly kind = 'redis' as const;
  private readonly commands: CleverCommands;
  private readonly keyPrefix: string;
  private readonly prefixes = new Map<string, string[]>();
  /** bucket counts recorded in Redis that differ from options.buckets, per namespace */
  private readonly counts = new Map<string, number>();
  /** namespaces whose recorded count a set script confirmed: their plain writes skip the script */
  private readonly verified = new Set<string>();
  private readonly registering = new Map<string, Promise<void>>();
  /** namespaces whose recorded bucket count a first read asked for (see readRecorded) */
  private readonly looked = new Set<string>();
  private readonly batches = new PendingBatches();
  /** calls pending per Redis process (node key; '' on a single Redis), for BATCH_LIMIT */
  private readonly pendingCalls = new Map<string, number>();
  private readonly slots = new Map<string, number>();
  /** batch commands in flight per cluster node, for MAX_IN_FLIGHT */
  private readonly inFlight = new Map<string, number>();
  private flushScheduled = false;
  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flushReady();
  };

  constructor(readonly client: RedisClient, private readonly options: RedisBackendOptions, private readonly ownsClient: boolean) {
    for (const [name, lua] of COMMANDS) client.defineCommand(name, { numberOfKeys: 1, lua });
    this.commands = client as unknown as CleverCommands;
    // ioredis adds keyPrefix to the keys it sends, but not to SCAN patterns or replies.
    this.keyPrefix = client.options.keyPrefix ?? '';
  }

  /** The bucket count a namespace's keys are placed with. */
  private count(ns: string): number {
    return this.counts.get(ns) ?? this.options.buckets;
  }

  /** `{ns:b}` for every bucket of a namespace. */
  private bucketPrefixes(ns: string): string[] {
    let list = this.prefixes.get(ns);
    if (!list) {
      list = Array.from({ length: this.count(ns) }, (_, b) => bucketPrefix(ns, b));
      this.prefixes.set(ns, list);
    }
    return list;
  }

  private prefix(ns: string, key: string): string {
    return this.bucketPrefixes(ns)[bucketOf(key, this.count(ns))]!;
  }

  /**
   * Records the namespace's bucket count in Redis if no store did yet (or its data was wiped),
   * adopts the recorded one, and marks every bucket with it. One at a time per namespace.
   * The count proposed is the largest one marked in the other buckets, if any: on a cluster the
   * record in bucket 0 can be lost alone (its node lost its data), and the entries written under
   * it are still placed with that count, so a store configured otherwise must not redefine it.
   * On a cluster the marks of at least MARKS_PROBED buckets are read (others may sit on the node
   * that lost its data); a single Redis loses the marks with the record.
   */
  private register(ns: string): Promise<void> {
    let pending = this.registering.get(ns);
    if (!pending) {
      pending = (async () => {
        const probed = isCluster(this.client) ? Math.max(this.count(ns), MARKS_PROBED) : this.count(ns);
        // One read per Redis process, like a tick's gets (63 single GETs on a cluster otherwise).
        const marks = await this.read(ns, Array.from({ length: probed - 1 }, (_, b) => {
          const p = bucketPrefix(ns, b + 1);
          return [p, `${p}m:`] as const;
        }));
        const marked = Math.max(0, ...marks.map(Number).filter((n) => Number.isInteger(n) && n >= 1));
        const recorded = Number(await this.commands.keyvCleverRegister(this.bucketPrefixes(ns)[0]!, marked || this.count(ns)));
        this.adopt(ns, recorded);
        await Promise.all(this.bucketPrefixes(ns).slice(1).map((p) => this.client.set(`${p}m:`, recorded)));
      })().finally(() => this.registering.delete(ns));
      this.registering.set(ns, pending);
    }
    return pending;
  }

  /**
   * A store's first read of a namespace also asks for its recorded bucket count, without waiting
   * for it: a store that only reads then finds the writers' keys from its next reads on.
   */
  private readRecorded(ns: string): void {
    if (this.looked.has(ns)) return;
    this.looked.add(ns);
    this.client.get(`${this.bucketPrefixes(ns)[0]!}m:`).then(
      (recorded) => { if (recorded !== null) this.adopt(ns, Number(recorded)); },
      () => this.looked.delete(ns), // asked again at the next read
    );
  }

  /** Places the namespace's keys with the count Redis records for it, if it differs. */
  private adopt(ns: string, recorded: number): void {
    if (!(recorded >= 1) || recorded === this.count(ns)) return;
    // What is pending was placed with the old count: out it goes (set scripts refuse it, see refused).
    this.flush();
    this.counts.set(ns, recorded);
    this.prefixes.delete(ns);
    this.verified.delete(ns);
    this.options.onBucketMismatch?.(new BucketCountMismatchError(ns, this.options.buckets, recorded));
  }

  /** Groups items by the bucket of their key, keeping each item's original position. */
  private byBucket<T>(ns: string, items: T[], keyOf: (item: T) => string): Map<string, Array<[number, T]>> {
    const groups = new Map<string, Array<[number, T]>>();
    items.forEach((item, i) => {
      const p = this.prefix(ns, keyOf(item));
      let group = groups.get(p);
      if (!group) groups.set(p, (group = []));
      group.push([i, item]);
    });
    return groups;
  }

  get(ns: string, key: string): Promise<string | undefined> {
    this.readRecorded(ns);
    const p = this.prefix(ns, key);
    const vkey = `${p}v:${key}`;
    const pending = this.batches.get(p);
    if (pending?.setKeys.has(vkey)) this.send([pending]);
    return new Promise((resolve, reject) => {
      const batch = this.batch(ns, p);
      batch.gets.push({ key: vkey, resolve, reject });
      this.sendIfFull(batch);
    });
  }

  /** Like a tick's gets, sent at once: one read per Redis process. */
  getMany(ns: string, keys: string[]): Promise<Array<string | undefined>> {
    this.flush();
    this.readRecorded(ns);
    return this.read(ns, keys.map((key) => {
      const p = this.prefix(ns, key);
      return [p, `${p}v:${key}`] as const;
    }));
  }

  /** Reads keys given with their bucket's prefix, sent at once: one read per Redis process. */
  private read(ns: string, keys: ReadonlyArray<readonly [p: string, key: string]>): Promise<Array<string | undefined>> {
    const batches = new Map<string, Batch>();
    const values = keys.map(([p, key]) => new Promise<string | undefined>((resolve, reject) => {
      looseBatch(batches, ns, p, this.count(ns)).gets.push({ key, resolve, reject });
    }));
    this.sendAll([...batches.values()]);
    return settleAll(values);
  }

  async hasMany(ns: string, keys: string[]): Promise<boolean[]> {
    this.flush();
    this.readRecorded(ns);
    // Sent back to back without waiting (pipelined on the wire), and valid across cluster slots.
    return Promise.all(keys.map(async (k) => (await this.client.exists(`${this.prefix(ns, k)}v:${k}`)) === 1));
  }

  set(ns: string, entries: WriteEntry[]): Promise<boolean[]> {
    if (entries.length !== 1) {
      this.flush();
      return this.setNow(ns, entries);
    }
    return new Promise((resolve, reject) => this.enqueueSet(ns, { entry: entries[0]!, resolve, reject, tries: 0 }));
  }

  private enqueueSet(ns: string, pending: PendingSet): void {
    const p = this.prefix(ns, pending.entry.key);
    const batch = this.batch(ns, p);
    batch.sets.push(pending);
    batch.setKeys.add(`${p}v:${pending.entry.key}`);
    this.sendIfFull(batch);
  }

  /** Like a tick's sets, sent at once: one set script call per Redis process. */
  private async setNow(ns: string, entries: WriteEntry[]): Promise<boolean[]> {
    const batches = new Map<string, Batch>();
    const written = entries.map((entry) => new Promise<boolean[]>((resolve, reject) => {
      looseBatch(batches, ns, this.prefix(ns, entry.key), this.count(ns)).sets.push({ entry, resolve, reject, tries: 0 });
    }));
    this.sendAll([...batches.values()]);
    return (await Promise.all(written)).map(([ok]) => ok === true);
  }

  /** The pending batch of a bucket; the first one of a tick schedules the flush. */
  private batch(ns: string, p: string): Batch {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.scheduledFlush);
    }
    return this.batches.open(ns, p, this.count(ns));
  }

  /** Counts a call just added to `batch`; sends its process's batches once they hold BATCH_LIMIT. */
  private sendIfFull(batch: Batch): void {
    const node = this.nodeOf(batch.p) ?? batch.p;
    const calls = (this.pendingCalls.get(node) ?? 0) + 1;
    if (calls < BATCH_LIMIT) {
      this.pendingCalls.set(node, calls);
      return;
    }
    // (a count may run ahead of what is pending, after a batch went early: that only sends sooner)
    this.pendingCalls.delete(node);
    this.send(this.batches.all().filter((b) => (this.nodeOf(b.p) ?? b.p) === node));
  }

  /** The Redis process serving a bucket, as far as the client knows (a single Redis: one). */
  private nodeOf(p: string): string | undefined {
    return isCluster(this.client) ? this.client.slots[this.slotOf(p)]?.[0] : '';
  }

  /**
   * Sends every pending batch (before any other command, so that commands keep their order).
   * The batches bound for one Redis process go together: their gets in one command, their sets in
   * one set script call (on a cluster, in one pipeline per node: one socket write per node).
   */
  private flush(): void {
    this.pendingCalls.clear();
    if (this.batches.size > 0) this.sendAll(this.batches.all());
  }

  /** The end of a tick: sends the pending batches but those of cluster nodes busy with MAX_IN_FLIGHT batch commands. */
  private flushReady(): void {
    if (this.inFlight.size === 0) {
      this.flush();
      return;
    }
    const ready: Batch[] = [];
    for (const batch of this.batches.all()) {
      const node = this.nodeOf(batch.p);
      if (node !== undefined && (this.inFlight.get(node) ?? 0) >= MAX_IN_FLIGHT) continue;
      if (node !== undefined) this.pendingCalls.delete(node);
      ready.push(batch);
    }
    this.sendAll(ready);
  }

  /** Counts a batch command to a cluster node until it is settled; then the node's waiting batches go. */
  private track(node: string | undefined, settled: Promise<unknown>): void {
    if (node === undefined) return;
    this.inFlight.set(node, (this.inFlight.get(node) ?? 0) + 1);
    const done = (): void => {
      const left = this.inFlight.get(node)! - 1;
      if (left > 0) this.inFlight.set(node, left);
      else this.inFlight.delete(node);
      if (!this.flushScheduled && this.batches.size > 0) {
        this.flushScheduled = true;
        process.nextTick(this.scheduledFlush);
      }
    };
    settled.then(done, done);
  }

  /** Sends batches grouped by the Redis process that serves them. */
  private sendAll(batches: Batch[]): void {
    if (batches.length === 0) return;
    if (!isCluster(this.client)) {
      this.send(batches);
      return;
    }
    const byNode = new Map<string, Batch[]>();
    for (const batch of batches) {
      const node = this.nodeOf(batch.p);
      if (node === undefined) {
        this.send([batch]); // slot not mapped yet: ioredis routes it
        continue;
      }
      let list = byNode.get(node);
      if (!list) byNode.set(node, (list = []));
      list.push(batch);
    }
    for (const list of byNode.values()) this.send(list);
  }

  /** Sends batches that live on one Redis process (see calls). */
  private send(batches: Batch[]): void {
    const calls = this.calls(batches);
    if (calls.length === 0) return;
    if (!isCluster(this.client)) {
      for (const call of calls) void sendAlone(this.client, call);
      return;
    }
    const node = this.nodeOf(batches[0]!.p);
    if (calls.length === 1) {
      this.track(node, sendAlone(this.client, calls[0]!));
      return;
    }
    // Several commands for one node go as one pipeline: one socket write.
    const pipeline = this.client.pipeline();
    for (const call of calls) call.send(pipeline as unknown as Sender);
    this.track(node, pipeline.exec().then(
      (results) => calls.forEach((call, i) => call.settle(results?.[i]?.[0] ?? null, results?.[i]?.[1])),
      (error: unknown) => calls.forEach((call) => call.settle(error, undefined)),
    ));
  }

  /**
   * Takes batches of one Redis process out of the pending ones as commands: the gets first (each
   * was issued before any pending set of its key, see get), then the sets in the order they were
   * issued. Gets of one bucket are one GET or MGET; gets of several buckets one read script (a
   * cluster refuses MGET across slots). An error settles every caller of its command with it; a
   * multi-bucket command that meets a slot that moved is sent again bucket by bucket, which
   * ioredis routes and redirects.
   */
  private calls(batches: Batch[]): Call[] {
    // (a batch sent again after a moved slot is no longer pending: keep a newer one of its bucket)
    for (const batch of batches) this.batches.remove(batch);
    const out: Call[] = [];
    const reading = batches.filter((b) => b.gets.length > 0);
    const gets = reading.flatMap((b) => b.gets);
    const settleGets = (error: unknown, values: unknown): void => gets.forEach((g, i) => (error ? g.reject(error) : g.resolve(unframeOrUndefined((values as Array<string | null>)[i]))));
    if (gets.length === 1) {
      const g = gets[0]!;
      out.push({ send: (to) => to.get(g.key), settle: (error, value) => (error ? g.reject(error) : g.resolve(unframeOrUndefined(value as string | null))) });
    } else if (reading.length === 1) {
      out.push({ send: (to) => to.mget(gets.map((g) => g.key)), settle: settleGets });
    } else if (gets.length > 1) {
      out.push({
        send: (to) => to.keyvCleverMget(gets[0]!.key, readArgs(reading)),
        settle: (error, values) => {
          if (error && movedSlot(error)) for (const b of reading) this.send([{ ...b, sets: [] }]);
          else settleGets(error, values);
        },
      });
    }
    const writing = batches.filter((b) => b.sets.length > 0);
    const lone = writing.length === 1 && writing[0]!.sets.length === 1 ? writing[0]!.sets[0]! : undefined;
    if (lone && isPlain(lone.entry) && this.verified.has(writing[0]!.ns)) {
      // A lone write without dependencies, guards or lock is a plain SET: no script to run.
      const { entry } = lone;
      const vkey = `${writing[0]!.p}v:${entry.key}`;
      out.push({
        send: (to) => (entry.ttl ? to.set(vkey, framePlain(entry.value), 'PX', entry.ttl) : to.set(vkey, framePlain(entry.value))),
        settle: (error) => (error ? lone.reject(error) : lone.resolve([true])),
      });
    } else if (writing.length > 0) {
      const sets = writing.flatMap((b) => b.sets);
      out.push({
        send: (to) => to.keyvCleverSet(writing[0]!.p, setArgs(writing.map((b) => [b.p, b.count, b.sets.map((e) => e.entry)]))),
        settle: (error, written) => {
          // Nothing was written: the script touches every bucket before its first write.
          if (error && writing.length > 1 && movedSlot(error)) {
            for (const b of writing) this.send([{ ...b, gets: [] }]);
            return;
          }
          if (!error && (written as number[])[0] === -1) {
            this.refused(writing);
            return;
          }
          if (!error) for (const b of writing) this.verified.add(b.ns);
          sets.forEach((e, i) => (error ? e.reject(error) : e.resolve([(written as number[])[i] === 1])));
        },
      });
    }
    return out;
  }

  /**
   * A set script call wrote nothing: one of its buckets does not hold the bucket count its keys
   * were placed with (never registered, wiped, or recorded with another count). Registers, then
   * places each write again. A guarded write whose bucket changed is dropped (its generations
   * were read in the old bucket): the caller's value is simply not cached this time.
   */
  private refused(batches: Batch[]): void {
    for (const b of batches) {
      this.register(b.ns).then(() => {
        const moved = this.count(b.ns) !== b.count;
        for (const pending of b.sets) {
          if (moved && (pending.entry.guards?.length || pending.entry.unlock)) pending.resolve([false]);
          else if (pending.tries >= 2) pending.reject(new BucketCountUnstableError(b.ns, b.p));
          else this.enqueueSet(b.ns, { ...pending, tries: pending.tries + 1 });
        }
      }, (error: unknown) => { for (const pending of b.sets) pending.reject(error); });
    }
  }

  /** Cluster hash slot of a bucket prefix (with the client's keyPrefix, as ioredis sends it). */
  private slotOf(p: string): number {
    let slot = this.slots.get(p);
    if (slot === undefined) this.slots.set(p, (slot = hashSlot(`${this.keyPrefix}${p}`)));
    return slot;
  }

  async delete(ns: string, keys: string[]): Promise<number> {
    this.flush();
    const unique = [...new Set(keys)];
    const before = this.count(ns);
    const deleteIn = async (ks: string[]) => Promise.all([...this.byBucket(ns, ks, (k) => k)]
      .map(([p, group]) => this.commands.keyvCleverDelete(p, ...group.map(([, k]) => k))));
    const replies = await deleteIn(unique);
    let removed = replies.reduce((sum, [n]) => sum + n, 0);
    // A bucket recorded with another count: the keys live where that count places them.
    if (replies.some(([, recorded]) => recorded > 0 && recorded !== before)) {
      await this.register(ns);
      const count = this.count(ns);
      const moved = unique.filter((k) => bucketOf(k, count) !== bucketOf(k, before));
      if (moved.length > 0) removed += (await deleteIn(moved)).reduce((sum, [n]) => sum + n, 0);
    }
    return removed;
  }

  async invalidate(ns: string, request: Invalidation): Promise<{ removed: number; tags: string[] }> {
    this.flush();
    // Each row's arguments apart: a call that ran out of time leaves rows for the next one.
    const rowArgs = request.rows.map((row) => {
      const fields = Object.entries(row.values);
      const args: Array<string | number> = [escape(row.table), fields.length];
      for (const [f, v] of fields) args.push(f, v);
      return args;
    });
    const rowsFrom = (from: number): Array<string | number> => {
      const part = rowArgs.slice(from, from + ROWS_PER_CALL);
      return [part.length, ...part.flat()];
    };
    const { invalidateChunk, invalidateBudget, raceWindow } = this.options;
    const covered = this.bucketPrefixes(ns);
    let recorded = 0;
    /** replicas connected to each Redis process the calls ran on, by node ('' on a single Redis) */
    const replicas = new Map<string, number>();
    // Every bucket's first call goes at once (most invalidations end there: one round trip); the
    // calls that continue a big invalidation take turns, one at a time per node, so a node never
    // holds a queue of long calls that other clients' commands wait behind, and fewer processes
    // busy at once preempt each other less (100k entries on the 3+3 local cluster, 6 runs: p99 call
    // 6.5-8.3 ms vs 9.7-24 ms with every bucket's calls at once; a PING to a master meanwhile: p99
    // 4.8-5.9 ms vs 2.5-26 ms; the node runs its calls one by one anyway: same total time).
    const turns = new Map<string, Promise<unknown>>();
    const inTurn = <T>(p: string, call: () => Promise<T>): Promise<T> => {
      const node = this.nodeOf(p) ?? p;
      const mine = (turns.get(node) ?? Promise.resolve()).then(call);
      turns.set(node, mine.catch(() => undefined));
      return mine;
    };
    const invalidateBucket = async (p: string): Promise<number> => {
      let tags = request.tags;
      let rowsDone = 0;
      let total = 0;
      let first = true;
      // Calls again while tags are left (not reached, or holding more than a chunk) or rows are.
      do {
        const call = () => this.commands.keyvCleverInvalidate(p, invalidateChunk, invalidateBudget, raceWindow, tags.length, ...tags, ...rowsFrom(rowsDone));
        const reply = first ? await call() : await inTurn(p, call);
        first = false;
        if (p === covered[0]) recorded = Number(reply[1]);
        total += Number(reply[0]);
        rowsDone += Number(reply[2]);
        const node = this.nodeOf(p) ?? '';
        replicas.set(node, Math.max(replicas.get(node) ?? 0, Number(reply[3])));
        tags = reply.slice(4).map(String);
      } while (tags.length > 0 || rowsDone < request.rows.length);
      return total;
    };
    const invalidateIn = async (prefixes: string[]) => (await Promise.all(prefixes.map(invalidateBucket))).reduce((a, b) => a + b, 0);
    let removed = await invalidateIn(covered);
    // Bucket 0 records the namespace's count: entries may sit in buckets this store did not cover.
    if (recorded > 0 && recorded !== covered.length) {
      this.adopt(ns, recorded);
      const rest = this.bucketPrefixes(ns).filter((p) => !covered.includes(p));
      if (rest.length > 0) removed += await invalidateIn(rest);
    }
    if (this.options.waitForReplicas) await this.replicated(ns, replicas);
    return { removed, tags: request.tags };
  }

  /**
   * Waits until the replicas connected to each Redis process an invalidation ran on have
   * received it (WAIT, on the connection that sent it, covers all its earlier writes). Replication
   * is asynchronous: a master that dies before its replicas got an invalidation hands the entries
   * it deleted back with the replica that takes over. Not acknowledged in time, the invalidation
   * counts as failed, so the store queues it for retry (on whichever process then serves its keys).
   * Meanwhile the commands that follow on those connections wait behind WAIT: one replica round trip.
   */
  private async replicated(ns: string, replicas: Map<string, number>): Promise<void> {
    const { replicaTimeout } = this.options;
    await Promise.all([...replicas].filter(([, wanted]) => wanted > 0).map(async ([node, wanted]) => {
      const connection = isCluster(this.client)
        ? this.client.nodes('master').find((r) => `${r.options.host}:${r.options.port}` === node)
        : this.client;
      if (!connection) throw new ReplicaTimeoutError(ns, node, undefined, wanted, replicaTimeout);
      const acked = Number(await connection.call('WAIT', wanted, replicaTimeout));
      if (acked < wanted) throw new ReplicaTimeoutError(ns, node, acked, wanted, replicaTimeout);
    }));
  }

  async capture(ns: string, key: string, deps: CompiledDependencies, lock?: { token: string; ttl: number }): Promise<Capture> {
    this.flush();
    this.readRecorded(ns);
    const args: Array<string | number> = [key, lock?.token ?? '', lock?.ttl ?? 0, deps.schemes.length];
    for (const [table, scheme] of deps.schemes) args.push(table, scheme);
    const reply = await this.commands.keyvCleverCapture(this.prefix(ns, key), ...args, ...deps.tags);
    if (reply[0] === 2) return { kind: 'value', value: unframe(String(reply[1])) };
    return { kind: 'miss', locked: reply[0] === 1, generations: reply.slice(1).map(Number) };
  }

  async unlock(ns: string, key: string, token: string): Promise<void> {
    this.flush();
    await this.commands.keyvCleverUnlock(this.prefix(ns, key), key, token);
  }

  async entriesFor(ns: string, tags: string[]): Promise<string[]> {
    this.flush();
    if (tags.length === 0) return [];
    const found = await Promise.all(this.bucketPrefixes(ns).map((p) => this.commands.keyvCleverEntries(p, ...tags)));
    return [...new Set(found.flat())];
  }

  /** Scans every master for keys of this namespace, yielding batches with keyPrefix removed. */
  private async *scan(ns: string, suffix: string): AsyncGenerator<string[]> {
    const match = `${globEscape(this.keyPrefix)}{${globEscape(escapeNamespace(ns))}:*}${suffix}`;
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', this.options.scanCount);
        cursor = next;
        if (keys.length > 0) yield keys.map((k) => k.slice(this.keyPrefix.length));
      } while (cursor !== '0');
    }
  }

  /** Splits `{ns:b}<kind>:<rest>` into its bucket prefix, kind and rest. */
  private static parse(key: string): { p: string; kind: string; rest: string } {
    const close = key.indexOf('}');
    return { p: key.slice(0, close + 1), kind: key.slice(close + 1, close + 3), rest: key.slice(close + 3) };
  }

  async clear(ns: string): Promise<void> {
    this.flush();
    // The bucket count goes too (m:): the next write registers it again.
    this.verified.delete(ns);
    for await (const keys of this.scan(ns, '*')) {
      const groups = new Map<string, string[]>();
      for (const k of keys) {
        const { p, kind } = RedisBackend.parse(k);
        if (!KINDS.has(kind)) continue; // shaped like ours but not written by the store
        let group = groups.get(p);
        if (!group) groups.set(p, (group = []));
        group.push(k);
      }
      await Promise.all([...groups.values()].map((group) => this.client.unlink(...group)));
    }
  }

  async *iterate(ns: string): AsyncGenerator<[string, string]> {
    this.flush();
    for await (const keys of this.scan(ns, 'v:*')) {
      const found = keys.map(RedisBackend.parse).filter((k) => k.kind === 'v:');
      const values = await this.getMany(ns, found.map((k) => k.rest));
      for (let i = 0; i < found.length; i++) {
        const value = values[i];
        if (value !== undefined) yield [found[i]!.rest, value];
      }
    }
  }

  async sweep(ns: string): Promise<number> {
    this.flush();
    let pruned = 0;
    for await (const keys of this.scan(ns, '[ip]:*')) {
      const groups = new Map<string, { sorted: string[]; pages: string[] }>();
      for (const k of keys.map(RedisBackend.parse)) {
        if (k.kind !== 'i:' && k.kind !== 'p:') continue;
        let group = groups.get(k.p);
        if (!group) groups.set(k.p, (group = { sorted: [], pages: [] }));
        (k.kind === 'i:' ? group.sorted : group.pages).push(k.rest);
      }
      const counts = await Promise.all([...groups].map(([p, { sorted, pages }]) => this.commands.keyvCleverSweep(p, sorted.length, ...sorted, ...pages)));
      pruned += counts.reduce((a, b) => a + b, 0);
    }
    return pruned;
  }

  /** The eviction policy of every master (they should agree). */
  async evictionPolicies(): Promise<string[]> {
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    return Promise.all(nodes.map(async (node) => {
      const reply = (await node.config('GET', 'maxmemory-policy')) as unknown as string[];
      return reply[1] ?? 'unknown';
    }));
  }

  async close(): Promise<void> {
    this.flush();
    if (this.ownsClient) await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** Sends one command of a batch on its own and settles its callers with the reply. */
/**
 * The values of reads sent to several Redis processes: one that fails leaves the others' values
 * usable (PartialReadError); all failing is the first failure.
 */
async function settleAll(reads: Array<Promise<string | undefined>>): Promise<Array<string | undefined>> {
  try {
    return await Promise.all(reads);
  } catch {
    // (only then: allSettled allocates a result per key)
    const settled = await Promise.allSettled(reads);
    const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length === settled.length) throw failures[0]!.reason;
    throw new PartialReadError(settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined)), failures.length, failures[0]!.reason);
  }
}

function sendAlone(client: RedisClient, call: Call): Promise<void> {
  return (call.send(client as unknown as Sender) as Promise<unknown>).then((reply) => call.settle(null, reply), (error: unknown) => call.settle(error, undefined));
}

/** The read script's arguments: per bucket, its number of keys, then the keys (a plain loop: on the hot path). */
function readArgs(reading: Batch[]): Array<string | number> {
  const args: Array<string | number> = [];
  for (const b of reading) {
    args.push(b.gets.length);
    for (const g of b.gets) args.push(g.key);
  }
  return args;
}

/** A write that touches no index, generation or lock: its bucket's value key alone. */
const isPlain = (e: WriteEntry): boolean => e.deps.tags.length === 0 && !e.guards?.length && !e.unlock;

/** A value stored without dependencies, as set.lua stores it: as is, unless it could pass for a header. */
const framePlain = (value: string): string => (value.charCodeAt(0) === 1 ? `\x01\x02${value}` : value);

/**
 * A cluster error that means a bucket is not (or no longer) served where the command went: a
 * multi-bucket command is then resent bucket by bucket.
 */
function movedSlot(error: unknown): boolean {
  return /MOVED|ASK|TRYAGAIN|CROSSSLOT|non local key|same slot/.test((error as Error)?.message ?? '');
}

const HEADER_ESCAPES: Record<string, string> = { '%': '%25', '\n': '%0A', '\x02': '%02' };

/**
 * An entry's tags as its value's header lists them (see lua/edges.lua): one per line, with the
 * header's separators escaped. Built here, where it costs least, and compared whole by set.lua.
 */
export function headerText(tags: readonly string[]): string {
  return tags.map((t) => (/[%\n\x02]/.test(t) ? t.replace(/[%\n\x02]/g, (ch) => HEADER_ESCAPES[ch]!) : t)).join('\n');
}

/** The set script's arguments for entries grouped by bucket (see set.lua). */
function setArgs(groups: Array<[prefix: string, count: number, entries: WriteEntry[]]>): Array<string | number> {
  const args: Array<string | number> = [groups.length];
  for (const [p, count] of groups) args.push(p, count);
  for (const [, , entries] of groups) {
    args.push(entries.length);
    for (const e of entries) {
      args.push(e.key, e.value, e.ttl ?? 0, e.deps.tags.length, ...e.deps.tags);
      if (e.deps.tags.length > 0) args.push(headerText(e.deps.tags));
      args.push(e.deps.schemes.length);
      for (const [table, scheme] of e.deps.schemes) args.push(table, scheme);
      const guards = e.guards ?? [];
      args.push(guards.length);
      for (const [tag, generation] of guards) args.push(tag, generation);
      args.push(e.unlock ?? '');
    }
  }
  return args;
}

/** CRC16-CCITT (XMODEM) lookup table, as Redis Cluster hashes keys. */
const CRC16 = Array.from({ length: 256 }, (_, i) => {
  let crc = i << 8;
  for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

/** The cluster slot of a key: CRC16 of its hash tag (between the first `{` and the next `}`, if not empty) or else of the whole key. */
export function hashSlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key, 'utf8')) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ byte) & 0xff]!;
  return crc % 16384;
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}
