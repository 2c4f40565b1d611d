import type { WriteEntry } from '../backend.js';

export interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** A write waiting in a batch; `tries` counts the times a bucket refused it (see Batcher.refused). */
export type PendingSet = Waiter<boolean[]> & { entry: WriteEntry; tries: number };

/** The single gets and single-entry sets issued to one bucket, sent together. */
export interface Batch {
  ns: string;
  /** the bucket's prefix, `{ns:b}` */
  p: string;
  /** the namespace's bucket count the batch's keys were placed with */
  count: number;
  /** reads of a key of the bucket: a value (v:) or the bucket count mark (m:) */
  gets: Array<Waiter<string | undefined> & { key: string }>;
  sets: PendingSet[];
  /** v: keys of the pending sets: a get of one of them must not overtake the write */
  setKeys: Set<string>;
}

export const newBatch = (ns: string, p: string, count: number): Batch => ({ ns, p, count, gets: [], sets: [], setKeys: new Set() });

/** The batch of bucket `p` in `batches` (those of one getMany / setMany call). */
export function looseBatch(batches: Map<string, Batch>, ns: string, p: string, count: number): Batch {
  let batch = batches.get(p);
  if (!batch) batches.set(p, (batch = newBatch(ns, p, count)));
  return batch;
}

/**
 * The batches waiting to be sent, at most one per bucket.
 *
 * Not a Map from which sent batches are deleted: V8 rebuilds a Map's hash table as entries come
 * and go (every tick, once a namespace has several buckets), and an outdated table keeps a link
 * to its successor and the entries it held. Once one of those tables has lived long enough to
 * move to the old generation, every later table and every batch, caller, promise and value they
 * reach survive each young-generation collection until the next full one, which costs client CPU
 * on every get. Here a bucket keeps its slot (an entry per bucket ever used, never deleted), and
 * the pending batches sit in a small array.
 */
export class PendingBatches {
  private readonly slots = new Map<string, { batch: Batch | undefined }>();
  private readonly list: Batch[] = [];

  get size(): number {
    return this.list.length;
  }

  /** The pending batch of bucket `p`, if any. */
  get(p: string): Batch | undefined {
    return this.slots.get(p)?.batch;
  }

  /** The pending batch of bucket `p`, opened if there is none. */
  open(ns: string, p: string, count: number): Batch {
    let slot = this.slots.get(p);
    if (!slot) this.slots.set(p, (slot = { batch: undefined }));
    if (!slot.batch) this.list.push((slot.batch = newBatch(ns, p, count)));
    return slot.batch;
  }

  /** Takes `batch` out of the pending ones (no-op if it is not pending: already sent, or a copy). */
  remove(batch: Batch): void {
    const slot = this.slots.get(batch.p);
    if (slot?.batch !== batch) return;
    slot.batch = undefined;
    this.list.splice(this.list.indexOf(batch), 1);
  }

  /** The pending batches, oldest first (a copy: sending them removes them). */
  all(): Batch[] {
    return this.list.slice();
  }
}
