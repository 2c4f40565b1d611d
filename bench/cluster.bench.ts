/**
 * CleverStore on a local Redis Cluster (6 redis-server processes: 3 masters, 3 replicas, started
 * here with LocalCluster and always stopped) vs on the standalone Redis, side by side:
 *   - get / set / set with 3 dependencies through Keyv, 50 concurrent workers, alternating rounds:
 *     ops/s and the per-operation cost ratio (standalone ops/s / cluster ops/s; target <= 1.2x);
 *   - the same for ioredis alone sending each tick's gets for a node as one MGET: what the cluster
 *     costs any client on this machine, next to what it costs the store;
 *   - invalidation of one tag holding 1k / 10k / 100k entries on the cluster: wall time, script
 *     calls, the longest single script call on any master (per-node SLOWLOG), and how long another
 *     client's PING to a master takes meanwhile.
 * Both stores use their defaults: 1 bucket standalone, 16 buckets on the cluster; two more sides
 * run the cluster with 64 and 4 buckets to show what the fan-out over buckets costs, one a
 * one-node cluster (one redis-server holding every slot, 16 buckets): the cluster code path
 * without the extra processes, which tells the client's share of the cost from the machine's,
 * and a last one a cluster of 3 masters without replicas: what replication adds.
 *
 * CLUSTER_NODES=host:port,… runs the comparisons against that cluster instead of the local one
 * (and REDIS_URL's Redis as the standalone side): the bucket sides and the invalidations, without
 * the local controls. It uses namespaces `bench-cluster*` only, and sets each master's slowlog
 * for the invalidations, restoring its settings after (its entries are reset).
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import Keyv from 'keyv';
import { CleverStore } from '../lib/index.js';
import { DEFAULTS } from '../lib/store/store.js';
import { hashSlot } from '../lib/backends/redis/index.js';
import { LocalCluster, clusterNodesFromEnv } from '../test/support/cluster.js';
import {
  REDIS_URL, Slowlog, adminClient, alternate, latencies, median, percentile, printTable, ratio, sampleValue, throughput, unlinkMatching,
  type Cell, type Op,
} from './common.js';

const exec = promisify(execFile);
const NS = 'bench-cluster';
const CLIENT = 'keyv-clever-bench-cluster';
const KEYS = 10_000;
const TTL = 600_000;
const WORKERS = 50;
const ROUNDS = 8;
const ROUND_MS = 300;
const SEQ_ROUNDS = 4;
const SEQ_MS = 150;
const SIZES = [1_000, 10_000, 100_000];
const { invalidateChunk: DEFAULT_CHUNK, invalidateBudget: DEFAULT_BUDGET } = DEFAULTS;
const BUDGETS = [1, 4];
const WRITE_BATCH = 500;
const TARGET_COST = 1.2;
const OTHER_BUCKETS = [64, 4];
const TARGET_CALL_US = 10_000;
const SLOWLOG_LEN = 10_000;
const SLOWLOG_THRESHOLD_US = 100;

interface Scenario { name: string; op: (kv: Keyv) => Op }

type Nodes = Array<{ host: string; port: number }>;

/** Describes the cluster compared, for the tables' notes. */
interface Topology {
  nodes: Nodes;
  /** started here (6 processes on this machine's cores), or given with CLUSTER_NODES */
  local: boolean;
}

const topologyNote = (t: Topology): string[] => (t.local
  ? ['The local cluster: 3 masters, 3 replicas; all 6 redis-server processes share the machine\'s 2 cores with this process: every',
    'round trip waits for a core.']
  : [`cluster: CLUSTER_NODES (${t.nodes.map((n) => `${n.host}:${n.port}`).join(', ')}); standalone: ${REDIS_URL}.`]);

const scenarios: Scenario[] = [
  {
    name: 'get (hit)',
    op: (kv) => async (i) => {
      if ((await kv.get(`g${(i * 7919) % KEYS}`)) === undefined) throw new Error('get: unexpected miss');
    },
  },
  {
    name: 'set, no dependencies',
    op: (kv) => async (i) => {
      if (!(await kv.set(`s${i % KEYS}`, sampleValue(i), TTL))) throw new Error('set failed');
    },
  },
  {
    name: 'set, 3 deps',
    op: (kv) => async (i) => {
      const k = i % KEYS;
      if (!(await kv.set(`d${k}`, sampleValue(i), { ttl: TTL, dependsOn: [`post:${k}`, `author:${k % 1000}`, 'posts'] }))) throw new Error('set failed');
    },
  },
];

async function preload(kv: Keyv): Promise<void> {
  for (let i = 0; i < KEYS; i += WRITE_BATCH) {
    const ok = await kv.setMany(Array.from({ length: Math.min(WRITE_BATCH, KEYS - i) }, (_, j) => ({ key: `g${i + j}`, value: sampleValue(i + j), ttl: TTL })));
    if (ok.some((b) => !b)) throw new Error('preload: a write failed');
  }
}

/** Measures every scenario side by side; returns the gets' median ops/s (standalone, cluster) and median cost ratio. */
async function throughputs(topology: Topology, standalone: Keyv, cluster: Keyv, others: Keyv[], labels: string[]): Promise<[number, number, number]> {
  for (const kv of [standalone, cluster, ...others]) await preload(kv);
  const rows: Cell[][] = [];
  const seqRows: Cell[][] = [];
  let gets: [number, number, number] = [0, 0, 0];
  for (const s of scenarios) {
    const ops = [s.op(standalone), s.op(cluster), ...others.map((kv) => s.op(kv))];
    const [a, b, ...rest] = await alternate(ops.map((op) => () => throughput(op, WORKERS, ROUND_MS)), ROUNDS,
      ops.map((op) => () => throughput(op, WORKERS, 200))) as number[][];
    const cost = a!.map((x, i) => x / b![i]!); // per round: cluster's time per op / standalone's
    const mid = median(cost);
    if (s === scenarios[0]) gets = [median(a!), median(b!), mid];
    rows.push([s.name, Math.round(median(a!)), Math.round(median(b!)), ratio(mid), `${ratio(Math.min(...cost))}..${ratio(Math.max(...cost))}`,
      mid <= TARGET_COST ? 'yes' : 'NO', ...rest.flatMap((c) => [Math.round(median(c)), ratio(median(a!.map((x, i) => x / c[i]!)))])]);
    const [la, lb] = await alternate(ops.slice(0, 2).map((op) => () => latencies(op, SEQ_MS)), SEQ_ROUNDS) as [number[][], number[][]];
    seqRows.push([s.name, percentile(la.flat(), 50).toFixed(0), percentile(la.flat(), 99).toFixed(0),
      percentile(lb.flat(), 50).toFixed(0), percentile(lb.flat(), 99).toFixed(0)]);
  }
  printTable(`CleverStore through Keyv, standalone vs cluster, ${WORKERS} concurrent workers, ops/s (median of ${ROUNDS} alternating rounds of ${ROUND_MS} ms)`,
    ['operation', 'standalone', 'cluster', 'cost ratio', 'ratio range', `<= ${TARGET_COST}x`, ...labels.flatMap((label) => [label, 'its ratio'])], rows,
    ['cost ratio = per round, standalone ops/s / cluster ops/s (time per operation on the cluster relative to standalone).',
      `standalone: 1 bucket, one connection. cluster: ${DEFAULTS.clusterBuckets} buckets (default) over its masters (the replicas replicating every write),`,
      'one connection per node; the gets bound for one node are one read (a read script across its buckets, or MGET for one',
      'bucket), their sets one set script call, and while a node answers one, the calls for it wait and go together next.',
      ...topologyNote(topology),
      ...(topology.local ? [
        `1-node cluster: the same client code (ioredis Cluster, ${DEFAULTS.clusterBuckets} buckets, per-node read and write) against one redis-server.`,
        'no replicas: a cluster of 3 masters without replicas (3 redis-server processes), the same client code: what replication adds.'] : [])]);
  printTable(`Sequential (1 op in flight), latency µs (${SEQ_ROUNDS} alternating rounds of ${SEQ_MS} ms)`,
    ['operation', 'standalone p50', 'standalone p99', 'cluster p50', 'cluster p99'], seqRows);
  return gets;
}

/**
 * What any client pays per get on each topology: ioredis alone (no Keyv, no store), the gets of a
 * tick bound for one Redis process sent as one MGET, keys under one hash tag per master.
 */
function tickMget(client: Redis | Cluster, tags: string[]): Op {
  let batches = tags.map(() => ({ keys: [] as string[], done: [] as Array<() => void> }));
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const sending = batches;
    batches = tags.map(() => ({ keys: [], done: [] }));
    for (const b of sending) if (b.keys.length > 0) void client.mget(b.keys).then(() => { for (const d of b.done) d(); });
  };
  return (i) => new Promise<void>((resolve) => {
    if (!scheduled) {
      scheduled = true;
      process.nextTick(flush);
    }
    const t = i % tags.length;
    batches[t]!.keys.push(`${tags[t]}${(i * 7919) % KEYS}`);
    batches[t]!.done.push(resolve);
  });
}

/** Prints the wire's figures next to the store's gets (median ops/s, standalone and cluster, and median cost ratio). */
async function wireFloor(topology: Topology, [storeA, storeB, storeCost]: [number, number, number]): Promise<void> {
  const single = new Redis(REDIS_URL, { connectionName: CLIENT });
  const nodes = new Cluster(topology.nodes, { redisOptions: { connectionName: CLIENT } });
  try {
    await new Promise((resolve, reject) => nodes.once('ready', resolve).once('error', reject));
    const tags: string[] = [];
    const owners = new Set<string>();
    const masterCount = new Set(nodes.slots.map((slot) => slot?.[0]).filter((owner) => owner !== undefined)).size;
    for (let i = 0; tags.length < masterCount; i++) {
      const owner = nodes.slots[hashSlot(`{${NS}-floor-${i}}`)]![0]!;
      if (owners.has(owner)) continue;
      owners.add(owner);
      tags.push(`{${NS}-floor-${i}}`);
    }
    const value = JSON.stringify({ value: sampleValue(0), expires: null });
    for (const [client, ts] of [[single, [`{${NS}-floor}`]], [nodes, tags]] as const) {
      for (const t of ts) for (let i = 0; i < KEYS; i += WRITE_BATCH) await client.mset(Array.from({ length: Math.min(WRITE_BATCH, KEYS - i) }, (_, j) => [`${t}${i + j}`, value]).flat());
    }
    const ops = [tickMget(single, [`{${NS}-floor}`]), tickMget(nodes, tags)];
    const [a, b] = await alternate(ops.map((op) => () => throughput(op, WORKERS, ROUND_MS)), ROUNDS, ops.map((op) => () => throughput(op, WORKERS, 200))) as [number[], number[]];
    const cost = a.map((x, i) => x / b[i]!);
    const extra = (x: number, y: number): string => (1e6 / y - 1e6 / x).toFixed(1);
    const allowed = (x: number): string => ((TARGET_COST - 1) * 1e6 / x).toFixed(1);
    printTable(`The wire alone: ioredis, ${WORKERS} concurrent gets, each tick's gets for one Redis process as one MGET (median of ${ROUNDS} alternating rounds)`,
      ['client', 'standalone', 'cluster', 'cost ratio', 'ratio range', 'cluster extra µs/get', `extra within ${TARGET_COST}x`],
      [['ioredis MGET per node and tick', Math.round(median(a)), Math.round(median(b)), ratio(median(cost)), `${ratio(Math.min(...cost))}..${ratio(Math.max(...cost))}`, extra(median(a), median(b)), allowed(median(a))],
        ['CleverStore get through Keyv (above)', Math.round(storeA), Math.round(storeB), ratio(storeCost), '', extra(storeA, storeB), allowed(storeA)]],
      [`No Keyv, no store, no scripts: what spreading the same gets over ${tags.length} masters costs any client here (${tags.length} commands,`,
        `${tags.length} socket writes and ${tags.length} replies per round where one Redis takes 1).`, ...topologyNote(topology),
        `cluster extra = wall time per get at ${WORKERS} concurrent, cluster minus standalone; extra within ${TARGET_COST}x = what the target allows on top`,
        'of the standalone get. The store\'s gets travel the same way, so its extra can hardly be smaller than the wire\'s.']);
    for (const t of tags) await nodes.unlink(...Array.from({ length: KEYS }, (_, i) => `${t}${i}`));
    await single.unlink(...Array.from({ length: KEYS }, (_, i) => `{${NS}-floor}${i}`));
  } finally {
    single.disconnect();
    nodes.disconnect();
  }
}

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

/** A connection of its own to each master of a cluster. */
async function masters(nodes: Nodes): Promise<Redis[]> {
  const cluster = new Cluster(nodes);
  try {
    await new Promise((resolve, reject) => cluster.once('ready', resolve).once('error', reject));
    const owners = [...new Set(cluster.slots.map((slot) => slot?.[0]).filter((owner) => owner !== undefined))];
    return owners.map((owner) => {
      const [host, port] = owner.split(':');
      return new Redis(Number(port), host!, { connectionName: `${CLIENT}-admin` });
    });
  } finally {
    cluster.disconnect();
  }
}

/** Invalidation runs: [label, store, entries, index of its cluster, masters at real-time priority meanwhile]. */
type InvalidationCase = [string, CleverStore, number, number, boolean?];

/**
 * Puts processes under SCHED_FIFO (priority 10) or back under the default policy: the masters
 * then run their calls without being preempted by the other processes (root only).
 */
async function realtime(pids: number[], on: boolean): Promise<void> {
  for (const pid of pids) await exec('chrt', on ? ['-f', '-p', '10', String(pid)] : ['-o', '-p', '0', String(pid)]);
}

async function pidOf(node: Redis): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await node.info('server'))![1]);
}

async function invalidations(topology: Topology, clusters: Nodes[], cases: InvalidationCase[]): Promise<void> {
  const mastersOf = await Promise.all(clusters.map(masters));
  const nodes = mastersOf.flat();
  const slowlogs = nodes.map((n) => new Slowlog(n));
  const pids = topology.local ? await Promise.all(mastersOf[0]!.map(pidOf)) : [];
  try {
    const rows: Cell[][] = [];
    for (const [label, store, n, on, rt] of cases) {
      await store.clear();
      await populate(store, n);
      if (rt) {
        try {
          await realtime(pids, true);
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
        const probes = mastersOf[on]!.map(async (node) => {
          while (probing) {
            const t = performance.now();
            await node.ping();
            pings.push(performance.now() - t);
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        });
        const t0 = performance.now();
        const removed = await store.invalidate('big').finally(() => { probing = false; });
        const ms = performance.now() - t0;
        await Promise.all(probes);
        if (rt) await realtime(pids, false);
        if (removed !== n) throw new Error(`invalidate removed ${removed}, expected ${n}`);
        const perNode = await Promise.all(slowlogs.map((s) => s.scriptCalls(SLOWLOG_LEN, CLIENT)));
        const durations = perNode.flatMap((r) => r.calls.map((c) => c.micros));
        const maxPerNode = perNode.map((r) => Math.max(0, ...r.calls.map((c) => c.micros))).filter((_, i) => perNode[i]!.calls.length > 0);
        const max = Math.max(...maxPerNode);
        rows.push([label, durations.length, ms.toFixed(0), Math.round(n / (ms / 1000)),
          Math.round(median(durations)), Math.round(percentile(durations, 99)), max, maxPerNode.join('/'), max <= TARGET_CALL_US ? 'yes' : 'NO',
          `${percentile(pings, 99).toFixed(1)} / ${Math.max(...pings).toFixed(1)}`]);
        if (perNode.some((r) => r.truncated)) console.log('  warning: a slowlog filled up; call counts may be low');
      } finally {
        if (rt) await realtime(pids, false).catch(() => undefined);
        for (const s of slowlogs) await s.restore();
      }
    }
    printTable(`invalidate('big') on the cluster (${DEFAULTS.clusterBuckets} buckets, invalidateChunk ${DEFAULT_CHUNK} per bucket and call)`,
      ['case', 'script calls', 'total ms', 'entries/s', 'median call µs', 'p99 call µs', 'max call µs', 'max per master µs', `max <= ${TARGET_CALL_US / 1000} ms`, 'PING p99 / max ms'], rows,
      ['each entry depends on [big, item:<k>, group:<k % (n/100)>]. Every bucket gets its first call at once; the calls that continue',
        'go one at a time per master (the masters in parallel).',
        `Call durations: server-side wall time, per-master SLOWLOG (slower than ${SLOWLOG_THRESHOLD_US} µs), EVALSHA of this store's connections`,
        'only (shorter calls are not counted).',
        ...(topology.local ? ['The 3 masters run their calls at once while their replicas apply them, 6 processes on 2 cores: a call',
          'takes ~3x its standalone time here, and its wall time includes the time its process waits for a core.'] : topologyNote(topology)),
        `budget = invalidateBudget (default ${DEFAULT_BUDGET} ms): each call stops once it has run that long (checked every 50 entries).`,
        ...(topology.local ? [
          `1-node cluster: the same ${DEFAULTS.clusterBuckets} buckets and calls on one redis-server holding every slot (no replica): cluster mode without`,
          'the other 5 processes competing for the 2 cores. no replicas: 3 masters without replicas (3 processes).',
          'masters real-time: the 3+3 cluster with its 3 masters under SCHED_FIFO during the invalidation (chrt, root): no other process',
          'preempts a call once it runs, as when each master has a core of its own; a call\'s wall time is then what it costs Redis.'] : []),
        'PING: another client (this process) pings each master every millisecond during the invalidation: round trip, client side.']);
  } finally {
    for (const s of slowlogs) await s.restore().catch(() => undefined);
    for (const node of nodes) node.disconnect();
  }
}

export default async function run(): Promise<void> {
  const given = clusterNodesFromEnv();
  const started: LocalCluster[] = [];
  let topology: Topology;
  // The local controls (a one-node cluster, 3 masters without replicas) run next to a local cluster only.
  let controls: Array<[label: string, nodes: Nodes]> = [];
  try {
    if (given) {
      topology = { nodes: given, local: false };
    } else {
      const cluster = await LocalCluster.start();
      started.push(cluster);
      topology = { nodes: cluster.nodes, local: true };
      const single = await LocalCluster.start(1);
      started.push(single);
      const bare = await LocalCluster.start(3, 0);
      started.push(bare);
      controls = [['1-node cluster', single.nodes], ['no replicas', bare.nodes]];
    }
  } catch (error) {
    for (const c of started) await c.stop();
    throw error;
  }
  const admin = adminClient('keyv-clever-bench-cluster-admin');
  const on = (nodes: Nodes, options: Record<string, unknown> = {}) => new CleverStore({ cluster: nodes, connectionName: CLIENT, sweepInterval: 0, ...options });
  const standaloneStore = new CleverStore(REDIS_URL, { connectionName: CLIENT, sweepInterval: 0 });
  const clusterStore = on(topology.nodes);
  const otherStores = [...OTHER_BUCKETS.map((buckets) => on(topology.nodes, { buckets })), ...controls.map(([, nodes]) => on(nodes))];
  const labels = [...OTHER_BUCKETS.map((n) => `${n} buckets`), ...controls.map(([label]) => label)];
  const inv = { namespace: `${NS}-inv` };
  const invalidating = on(topology.nodes, inv);
  const budgeted = BUDGETS.map((invalidateBudget) => on(topology.nodes, { ...inv, invalidateBudget }));
  const invalidatingControls = controls.map(([, nodes]) => on(nodes, inv));
  const stores = [standaloneStore, clusterStore, ...otherStores, invalidating, ...budgeted, ...invalidatingControls];
  for (const s of stores) s.on('error', (e) => console.error('CleverStore error:', e.message));
  const standalone = new Keyv({ store: standaloneStore, namespace: NS });
  const onCluster = new Keyv({ store: clusterStore, namespace: NS });
  const others = otherStores.map((store, i) => new Keyv({ store, namespace: `${NS}-${i}` }));
  try {
    await unlinkMatching(admin, `{${NS}:*`);
    await wireFloor(topology, await throughputs(topology, standalone, onCluster, others, labels));
    await onCluster.clear();
    for (const kv of others) await kv.clear();
    const big = SIZES[SIZES.length - 1]!;
    const label = (n: number) => n.toLocaleString('en-US');
    await invalidations(topology, [topology.nodes, ...controls.map(([, nodes]) => nodes)], [
      ...SIZES.map((n): InvalidationCase => [`${label(n)} entries`, invalidating, n, 0]),
      ...budgeted.map((store, i): InvalidationCase => [`${label(big)}, budget ${BUDGETS[i]} ms`, store, big, 0]),
      ...invalidatingControls.map((store, i): InvalidationCase => [`${label(big)}, ${controls[i]![0]}`, store, big, i + 1]),
      ...(topology.local ? [[`${label(big)}, masters real-time`, invalidating, big, 0, true] as InvalidationCase] : []),
    ]);
    for (const store of [invalidating, ...invalidatingControls]) await store.clear();
  } finally {
    await unlinkMatching(admin, `{${NS}:*`).catch(() => undefined);
    for (const kv of [standalone, onCluster, ...others]) await kv.disconnect().catch(() => undefined);
    for (const store of [invalidating, ...budgeted, ...invalidatingControls]) await store.disconnect().catch(() => undefined);
    admin.disconnect();
    for (const c of started) await c.stop();
  }
}
