/**
 * The cluster bench's invalidations (not a benchmark itself): one tag holding n entries
 * invalidated on a side (a cluster, or the standalone Redis), with each master's SLOWLOG on for
 * the run: script calls, the longest one, how long the masters waited for a core meanwhile, and
 * how long another client's PING takes.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import type { CleverStore } from '../lib/index.js';
import { DEFAULTS } from '../lib/store/store.js';
import { Slowlog, median, percentile, printTable, type Cell } from './common.js';

const exec = promisify(execFile);
const { invalidateChunk: DEFAULT_CHUNK, invalidateBudget: DEFAULT_BUDGET } = DEFAULTS;
const WRITE_BATCH = 500;
export const TARGET_CALL_US = 10_000;
const SLOWLOG_LEN = 10_000;
const SLOWLOG_THRESHOLD_US = 100;

type Nodes = Array<{ host: string; port: number }>;

/** Where the servers run, for the table's notes, and the name of the stores' connections. */
export interface Where { local: boolean; note: string[]; client: string }

/** Writes n entries depending on 'big', their own tag and a tag shared by 100 entries. */
async function populate(store: CleverStore, n: number): Promise<void> {
  const value = JSON.stringify({ value: { id: 0, title: 'an entry to be invalidated', body: 'x'.repeat(100) }, expires: null });
  for (let i = 0; i < n; i += WRITE_BATCH) {
    const ok = await store.setMany(Array.from({ length: Math.min(WRITE_BATCH, n - i) }, (_, j) => {
      const k = i + j;
      return { key: `e${k}`, value, ttl: { ttl: 3_600_000, dependsOn: ['big', `item:${k}`, `group:${k % (n / 100)}`] } };
    }));
    if (ok.some((b) => !b)) throw new Error('populate: a write was refused');
  }
}

/** A connection of its own to each master of a cluster, named `connectionName`. */
export async function masters(nodes: Nodes, connectionName: string): Promise<Redis[]> {
  const cluster = new Cluster(nodes);
  try {
    await new Promise((resolve, reject) => cluster.once('ready', resolve).once('error', reject));
    const owners = [...new Set(cluster.slots.map((slot) => slot?.[0]).filter((owner) => owner !== undefined))];
    return owners.map((owner) => {
      const [host, port] = owner.split(':');
      return new Redis(Number(port), host!, { connectionName });
    });
  } finally {
    cluster.disconnect();
  }
}

/**
 * Where invalidations run: a name, a connection of its own to each master (the standalone: one)
 * and, on this machine, their process ids.
 */
export interface Side { name: string; masters: Redis[]; pids: number[] }

/** Invalidation runs: [label, store, entries, its side's name, masters at real-time priority meanwhile]. */
export type InvalidationCase = [string, CleverStore, number, string, boolean?];

/**
 * Puts processes under SCHED_FIFO (priority 10) or back under the default policy: the masters
 * then run their calls without being preempted by the other processes (root only).
 */
async function realtime(pids: number[], on: boolean): Promise<void> {
  for (const pid of pids) await exec('chrt', on ? ['-f', '-p', '10', String(pid)] : ['-o', '-p', '0', String(pid)]);
}

export async function pidOf(node: Redis): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await node.info('server'))![1]);
}

/** ns the processes' main threads have spent runnable but waiting for a core (Linux schedstat; 0 elsewhere). */
function waitedForCore(pids: number[]): number {
  let ns = 0;
  for (const pid of pids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // not Linux, or no schedstat
    }
  }
  return ns;
}

/**
 * Runs the cases; returns the longest script call (µs) seen on each side. `local`: the servers run
 * on this machine (their run-queue waits are read); `note` describes them otherwise.
 */
export async function invalidations({ local, note, client }: Where, sides: Side[], cases: InvalidationCase[]): Promise<Map<string, number>> {
  const nodes = sides.flatMap((s) => s.masters);
  const slowlogs = nodes.map((n) => new Slowlog(n));
  const longest = new Map<string, number>();
  try {
    const rows: Cell[][] = [];
    for (const [label, store, n, sideName, rt] of cases) {
      const side = sides.find((s) => s.name === sideName)!;
      await store.clear();
      await populate(store, n);
      if (rt) {
        try {
          await realtime(side.pids, true);
        } catch (error) {
          rows.push([label, `not measured: chrt failed (${(error as Error).message.split('\n')[0]})`]);
          continue;
        }
      }
      for (const s of slowlogs) await s.enable(SLOWLOG_LEN, SLOWLOG_THRESHOLD_US);
      try {
        for (const s of slowlogs) await s.reset();
        // Another client's view: a PING to each master every millisecond while the invalidation runs.
        let probing = true;
        const pings: number[] = [];
        const probes = side.masters.map(async (node) => {
          while (probing) {
            const t = performance.now();
            await node.ping();
            pings.push(performance.now() - t);
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        });
        const waited0 = waitedForCore(side.pids);
        const t0 = performance.now();
        const removed = await store.invalidate('big').finally(() => { probing = false; });
        const ms = performance.now() - t0;
        const waited = (waitedForCore(side.pids) - waited0) / 1e6;
        await Promise.all(probes);
        if (rt) await realtime(side.pids, false);
        if (removed !== n) throw new Error(`invalidate removed ${removed}, expected ${n}`);
        const perNode = await Promise.all(slowlogs.map((s) => s.scriptCalls(SLOWLOG_LEN, client)));
        const durations = perNode.flatMap((r) => r.calls.map((c) => c.micros));
        const maxPerNode = perNode.map((r) => Math.max(0, ...r.calls.map((c) => c.micros))).filter((_, i) => perNode[i]!.calls.length > 0);
        const max = Math.max(0, ...maxPerNode);
        if (!rt) longest.set(sideName, Math.max(longest.get(sideName) ?? 0, max));
        rows.push([label, durations.length, ms.toFixed(0), Math.round(n / (ms / 1000)),
          Math.round(median(durations)), Math.round(percentile(durations, 99)), max, maxPerNode.join('/'), max <= TARGET_CALL_US ? 'yes' : 'NO',
          local ? (durations.reduce((a, b) => a + b, 0) / 1000).toFixed(0) : '-', local ? waited.toFixed(0) : '-',
          `${percentile(pings, 99).toFixed(1)} / ${Math.max(...pings).toFixed(1)}`]);
        if (perNode.some((r) => r.truncated)) console.log('  warning: a slowlog filled up; call counts may be low');
      } finally {
        if (rt) await realtime(side.pids, false).catch(() => undefined);
        for (const s of slowlogs) await s.restore();
      }
    }
    printTable(`invalidate('big') (cluster: ${DEFAULTS.clusterBuckets} buckets; invalidateChunk ${DEFAULT_CHUNK} per bucket and call)`,
      ['case', 'script calls', 'total ms', 'entries/s', 'median call µs', 'p99 call µs', 'max call µs', 'max per master µs', `max <= ${TARGET_CALL_US / 1000} ms`, 'calls ms', 'waited ms', 'PING p99 / max ms'], rows,
      ['each entry depends on [big, item:<k>, group:<k % (n/100)>]. Every bucket gets its first call at once; the calls that continue',
        'go one at a time per master (the masters in parallel).',
        `Call durations: server-side wall time, per-master SLOWLOG (slower than ${SLOWLOG_THRESHOLD_US} µs), EVALSHA of this store's connections`,
        'only (shorter calls are not counted).',
        ...(local ? ['On the 3+3 cluster the 3 masters run their calls at once while their replicas apply them, 6 processes on 2 cores: a',
          'call takes ~3x its standalone time there, and its wall time includes the time its process waits for a core.'] : note),
        `budget = invalidateBudget (default ${DEFAULT_BUDGET} ms): each call stops once it has run that long (checked every 10 entries).`,
        ...(local ? [
          'standalone: the private redis-server, 1 bucket (the default).',
          `1-node cluster: the same ${DEFAULTS.clusterBuckets} buckets and calls on one redis-server holding every slot (no replica): cluster mode without`,
          'the other 5 processes competing for the 2 cores. no replicas: 3 masters without replicas (3 processes).',
          'real-time: the masters of that side under SCHED_FIFO during the invalidation (chrt, root): no other process preempts a',
          'call once it runs, as when each master has a core of its own; a call\'s wall time is then what it costs Redis. Left out of',
          'the targets (the standalone and the 1-node cluster are measured under the default policy).'] : []),
        ...(local ? ['calls ms: the calls\' durations summed (those in the slowlog); waited ms: how long the masters\' processes were',
          'runnable but waiting for a core meanwhile (/proc/<pid>/schedstat, summed over the masters; between calls too).'] : []),
        'PING: another client (this process) pings each master every millisecond during the invalidation: round trip, client side.']);
  } finally {
    for (const s of slowlogs) await s.restore().catch(() => undefined);
    for (const node of nodes) node.disconnect();
  }
  return longest;
}
