import type { Invalidation } from '../../dependencies.js';
import { ReplicaTimeoutError } from '../../errors.js';
import type { BucketCounts } from './bucket-counts.js';
import { isCluster, type Layout } from './layout.js';
import { RowFields, type RowsToSend } from './row-fields.js';
import { invalidateScript, runScript } from './scripts.js';

/**
 * Changed rows one invalidation call receives at most: Redis reads every argument of a call
 * before the script runs, so a bulk update's rows go a part at a time (the script also stops
 * turning rows into tags at its deadline).
 */
const ROWS_PER_CALL = 200;

/**
 * Tags one invalidation call receives at most, those a previous call left over included: any
 * number of tags goes in bounded calls, and the tags a call hands back stay few.
 */
const TAGS_PER_CALL = 500;

export interface InvalidationOptions {
  /** most entries one invalidation script call deletes */
  invalidateChunk: number;
  /** ms after which one invalidation script call stops */
  invalidateBudget: number;
  /** how long a tag's generation outlives its last invalidation, ms (0 = no generations) */
  raceWindow: number;
  /** an invalidation is done once the replicas connected to each Redis process it ran on acknowledge it */
  waitForReplicas: boolean;
  /** ms an invalidation waits for those replicas before it counts as failed */
  replicaTimeout: number;
}

/**
 * Invalidates tags and changed rows in every bucket of a namespace, in chunked script calls
 * (each bounded by invalidateChunk entries and invalidateBudget ms), then waits for replicas.
 */
export async function invalidate(
  layout: Layout,
  counts: BucketCounts,
  options: InvalidationOptions,
  ns: string,
  request: Invalidation,
  rowFields?: RowFields,
): Promise<{ removed: number; tags: string[] }> {
  // Each row's arguments apart: a call that ran out of time leaves rows for the next one. Cut
  // down to the fields schemes name where those are known (see row-fields.ts).
  const cut = rowFields ? rowFields.cut(ns, request.rows) : RowFields.full(request.rows);
  let full: RowsToSend | undefined;
  const { invalidateChunk, invalidateBudget, raceWindow } = options;
  const covered = layout.bucketPrefixes(ns);
  let recorded = 0;
  /** replicas connected to each Redis process the calls ran on, by node ('' on a single Redis) */
  const replicas = new Map<string, number>();
  const inTurn = turns(layout);
  const invalidateBucket = async (p: string): Promise<number> => {
    let sending = cut;
    let left: string[] = [];
    let tagsSent = 0;
    let rowsDone = 0;
    let total = 0;
    let first = true;
    // Calls again while tags are left (not sent, not reached, or holding more than a chunk) or rows are.
    do {
      const fresh = request.tags.slice(tagsSent, tagsSent + Math.max(0, TAGS_PER_CALL - left.length));
      tagsSent += fresh.length;
      const tags = left.length === 0 ? fresh : left.concat(fresh);
      const rows = sending.rows.slice(rowsDone, rowsDone + ROWS_PER_CALL);
      const input = { limit: invalidateChunk, budget: invalidateBudget, raceWindow, tags, cut: rows.length > 0 ? sending.cut : [], rows };
      const call = () => runScript(layout.client, invalidateScript, p, input);
      const reply = first ? await call() : await inTurn(p, call);
      first = false;
      if (p === covered[0]) recorded = reply.recorded;
      if (reply.rowsDone < 0) {
        // A scheme names a field the cut rows lack: this bucket's rows again, every field kept
        // (the rows it already did are harmless to do twice); nothing of this call was done.
        for (const [table] of sending.cut) rowFields?.outdated(ns, table);
        sending = full ??= RowFields.full(request.rows);
        rowsDone = 0;
        left = tags;
        continue;
      }
      total += reply.removed;
      rowsDone += reply.rowsDone;
      const node = layout.nodeOf(p) ?? '';
      replicas.set(node, Math.max(replicas.get(node) ?? 0, reply.replicas));
      left = reply.tags;
    } while (left.length > 0 || tagsSent < request.tags.length || rowsDone < sending.rows.length);
    return total;
  };
  const invalidateIn = async (prefixes: string[]) => (await Promise.all(prefixes.map(invalidateBucket))).reduce((a, b) => a + b, 0);
  let removed = await invalidateIn(covered);
  // Bucket 0 records the namespace's count: entries may sit in buckets this store did not cover.
  if (recorded > 0 && recorded !== covered.length) {
    counts.adopt(ns, recorded);
    const rest = layout.bucketPrefixes(ns).filter((p) => !covered.includes(p));
    if (rest.length > 0) removed += await invalidateIn(rest);
  }
  if (options.waitForReplicas) await replicated(layout, options.replicaTimeout, ns, replicas);
  return { removed, tags: request.tags };
}

/**
 * Every bucket's first call goes at once (most invalidations end there: one round trip); the
 * calls that continue a big invalidation take turns, one at a time per node, so a node never
 * holds a queue of long calls that other clients' commands wait behind, and fewer processes busy
 * at once preempt each other less (the node runs its calls one by one anyway: same total time).
 * Returns the function that runs a call in its node's turn.
 */
function turns(layout: Layout): <T>(p: string, call: () => Promise<T>) => Promise<T> {
  const last = new Map<string, Promise<unknown>>();
  return (p, call) => {
    const node = layout.nodeOf(p) ?? p;
    const mine = (last.get(node) ?? Promise.resolve()).then(call);
    last.set(node, mine.catch(() => undefined));
    return mine;
  };
}

/**
 * Waits until the replicas connected to each Redis process an invalidation ran on have
 * received it (WAIT, on the connection that sent it, covers all its earlier writes). Replication
 * is asynchronous: a master that dies before its replicas got an invalidation hands the entries
 * it deleted back with the replica that takes over. Not acknowledged in time, the invalidation
 * counts as failed, so the store queues it for retry (on whichever process then serves its keys).
 * Meanwhile the commands that follow on those connections wait behind WAIT: one replica round trip.
 */
async function replicated(layout: Layout, replicaTimeout: number, ns: string, replicas: Map<string, number>): Promise<void> {
  await Promise.all([...replicas].filter(([, wanted]) => wanted > 0).map(async ([node, wanted]) => {
    const connection = isCluster(layout.client)
      ? layout.masters().find((r) => `${r.options.host}:${r.options.port}` === node)
      : layout.client;
    if (!connection) throw new ReplicaTimeoutError(ns, node, undefined, wanted, replicaTimeout);
    const acked = Number(await connection.call('WAIT', wanted, replicaTimeout));
    if (acked < wanted) throw new ReplicaTimeoutError(ns, node, acked, wanted, replicaTimeout);
  }));
}
