import { BucketCountUnstableError, PartialReadError } from '../../errors.js';
import type { WriteEntry } from '../backend.js';
import { PendingBatches, looseBatch, type Batch, type PendingSet } from './batches.js';
import type { BucketCounts } from './bucket-counts.js';
import { framePlain, unframeOrUndefined } from './frame.js';
import { isCluster, movedSlot, type Layout, type RedisClient } from './layout.js';
import { mgetScript, sendScript, setScript, type ScriptTarget } from './scripts.js';

/**
 * Calls the same-tick batches bound for one Redis process hold before they are sent without
 * waiting for the tick to end. Small on purpose: Redis runs the first part while the client still
 * prepares the rest.
 */
const BATCH_LIMIT = 24;

/**
 * Batch commands a cluster node may have in flight: the gets and sets issued meanwhile for that
 * node wait for its reply and then go together. Without it, each node's reply frees a few callers
 * whose next calls spread over every node, and batches shrink to a few calls each. A single Redis
 * answers in order, so its batches do not fragment.
 */
const MAX_IN_FLIGHT = 1;

/** What a batch's commands are sent to: the client, or a pipeline of the client (cluster). */
type Sender = ScriptTarget & {
  get(key: string): unknown;
  set(key: string, value: string, px?: 'PX', ttl?: number): unknown;
  mget(keys: string[]): unknown;
};

/** One command of a batch and how its reply (or error) reaches the batch's callers. */
interface Call {
  send: (to: Sender) => unknown;
  settle: (error: unknown, reply: unknown) => void;
}

/** A write that touches no index, generation or lock: its bucket's value key alone. */
const isPlain = (e: WriteEntry): boolean => e.deps.tags.length === 0 && !e.guards?.length && !e.unlock;

/**
 * Same-tick batching and flow control.
 *
 * Single gets and single-entry sets issued in the same tick are sent together, one MGET and one
 * set script call per bucket: at concurrency the client's cost per command, not Redis, is the
 * limit. On a cluster, a tick's batches for a node that is still answering a batch wait for that
 * reply (MAX_IN_FLIGHT). Every other call first sends what is pending (flush), so commands still
 * reach Redis in the order they were issued (as far as one key can tell).
 */
export class Batcher {
  private readonly batches = new PendingBatches();
  /** calls pending per Redis process (node key; '' on a single Redis), for BATCH_LIMIT */
  private readonly pendingCalls = new Map<string, number>();
  /** batch commands in flight per cluster node, for MAX_IN_FLIGHT */
  private readonly inFlight = new Map<string, number>();
  private flushScheduled = false;
  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flushReady();
  };

  constructor(private readonly client: RedisClient, private readonly layout: Layout, private readonly counts: BucketCounts) {}

  /** A single get, sent with the tick's other gets of its Redis process. */
  get(ns: string, key: string): Promise<string | undefined> {
    const p = this.layout.prefix(ns, key);
    const vkey = `${p}v:${key}`;
    const pending = this.batches.get(p);
    if (pending?.setKeys.has(vkey)) this.send([pending]);
    return new Promise((resolve, reject) => {
      const batch = this.batch(ns, p);
      batch.gets.push({ key: vkey, resolve, reject });
      this.sendIfFull(batch);
    });
  }

  /** Reads keys given with their bucket's prefix, sent at once: one read per Redis process. */
  read(ns: string, keys: ReadonlyArray<readonly [p: string, key: string]>): Promise<Array<string | undefined>> {
    if (keys.length > 0 && !isCluster(this.client) && keys.every(([p]) => p === keys[0]![0])) {
      // One bucket on one Redis (the default there): one MGET, its reply mapped as is.
      return this.client.mget(keys.map(([, key]) => key)).then((values) => values.map(unframeOrUndefined));
    }
    const batches = new Map<string, Batch>();
    const values = keys.map(([p, key]) => new Promise<string | undefined>((resolve, reject) => {
      looseBatch(batches, ns, p, this.counts.count(ns)).gets.push({ key, resolve, reject });
    }));
    this.sendAll([...batches.values()]);
    return settleAll(values);
  }

  /** A single entry goes with the tick's other sets; several go at once, one set script call per Redis process. */
  set(ns: string, entries: WriteEntry[]): Promise<boolean[]> {
    if (entries.length !== 1) {
      this.flush();
      return this.setNow(ns, entries);
    }
    return new Promise((resolve, reject) => this.enqueueSet(ns, { entry: entries[0]!, resolve, reject, tries: 0 }));
  }

  private enqueueSet(ns: string, pending: PendingSet): void {
    const p = this.layout.prefix(ns, pending.entry.key);
    const batch = this.batch(ns, p);
    batch.sets.push(pending);
    batch.setKeys.add(`${p}v:${pending.entry.key}`);
    this.sendIfFull(batch);
  }

  private async setNow(ns: string, entries: WriteEntry[]): Promise<boolean[]> {
    const batches = new Map<string, Batch>();
    const written = entries.map((entry) => new Promise<boolean[]>((resolve, reject) => {
      looseBatch(batches, ns, this.layout.prefix(ns, entry.key), this.counts.count(ns)).sets.push({ entry, resolve, reject, tries: 0 });
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
    return this.batches.open(ns, p, this.counts.count(ns));
  }

  /** Counts a call just added to `batch`; sends its process's batches once they hold BATCH_LIMIT. */
  private sendIfFull(batch: Batch): void {
    const node = this.layout.nodeOf(batch.p) ?? batch.p;
    const calls = (this.pendingCalls.get(node) ?? 0) + 1;
    if (calls < BATCH_LIMIT) {
      this.pendingCalls.set(node, calls);
      return;
    }
    // (a count may run ahead of what is pending, after a batch went early: that only sends sooner)
    this.pendingCalls.delete(node);
    this.send(this.batches.all().filter((b) => (this.layout.nodeOf(b.p) ?? b.p) === node));
  }

  /**
   * Sends every pending batch (before any other command, so that commands keep their order).
   * The batches bound for one Redis process go together: their gets in one command, their sets in
   * one set script call (on a cluster, in one pipeline per node: one socket write per node).
   */
  flush(): void {
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
      const node = this.layout.nodeOf(batch.p);
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
      const node = this.layout.nodeOf(batch.p);
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
    const node = this.layout.nodeOf(batches[0]!.p);
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
        send: (to) => sendScript(to, mgetScript, gets[0]!.key, reading),
        settle: (error, values) => {
          if (error && movedSlot(error)) for (const b of reading) this.send([{ ...b, sets: [] }]);
          else settleGets(error, error ? undefined : mgetScript.decode(values));
        },
      });
    }
    const writing = batches.filter((b) => b.sets.length > 0);
    const lone = writing.length === 1 && writing[0]!.sets.length === 1 ? writing[0]!.sets[0]! : undefined;
    if (lone && isPlain(lone.entry) && this.counts.isVerified(writing[0]!.ns)) {
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
        send: (to) => sendScript(to, setScript, writing[0]!.p, writing.map((b) => [b.p, b.count, b.sets.map((e) => e.entry)])),
        settle: (error, reply) => {
          // Nothing was written: the script touches every bucket before its first write.
          if (error && writing.length > 1 && movedSlot(error)) {
            for (const b of writing) this.send([{ ...b, gets: [] }]);
            return;
          }
          if (error) {
            for (const e of sets) e.reject(error);
            return;
          }
          const result = setScript.decode(reply);
          if (result.refused) {
            this.refused(writing);
            return;
          }
          for (const b of writing) this.counts.verify(b.ns);
          sets.forEach((e, i) => e.resolve([result.written[i] === true]));
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
      this.counts.register(b.ns).then(() => {
        const moved = this.counts.count(b.ns) !== b.count;
        for (const pending of b.sets) {
          if (moved && (pending.entry.guards?.length || pending.entry.unlock)) pending.resolve([false]);
          else if (pending.tries >= 2) pending.reject(new BucketCountUnstableError(b.ns, b.p));
          else this.enqueueSet(b.ns, { ...pending, tries: pending.tries + 1 });
        }
      }, (error: unknown) => { for (const pending of b.sets) pending.reject(error); });
    }
  }
}

function sendAlone(client: RedisClient, call: Call): Promise<void> {
  return (call.send(client as unknown as Sender) as Promise<unknown>).then((reply) => call.settle(null, reply), (error: unknown) => call.settle(error, undefined));
}

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
