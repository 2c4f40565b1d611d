/**
 * CleverStore on a local Redis Cluster (6 redis-server processes: 3 masters, 3 replicas, started
 * here with LocalCluster and always stopped) vs on a standalone Redis (a private redis-server
 * started here with the cluster nodes' settings), side by side, and issue 19's cluster targets:
 *   - get / set / set with 3 dependencies through Keyv, 50 concurrent workers, in alternating
 *     rounds with the wire alone (cluster-wire.ts: ioredis, each tick's gets for a node as one
 *     MGET, its sets as one pipeline): the store's cost ratio cluster/standalone over the wire's,
 *     per round (target: at most 1.1x for get and set);
 *   - invalidation of one tag holding 1k / 10k / 100k entries: wall time, script calls, the
 *     longest single script call on any master (per-node SLOWLOG), and how long another client's
 *     PING to a master takes meanwhile (target: the longest call at most 10 ms on the standalone
 *     and on the one-node cluster).
 * Both stores use their defaults (1 bucket standalone; see DEFAULTS.clusterBuckets). More sides
 * run the cluster with 64 and 4 buckets to show what the fan-out over buckets costs, a one-node
 * cluster (one redis-server holding every slot): the cluster code path without the extra
 * processes, which tells the client's share of the cost from the machine's, and a cluster of 3
 * masters without replicas: what replication adds.
 *
 * CLUSTER_NODES=host:port,… runs the comparisons against that cluster instead of the local one
 * (and REDIS_URL's Redis as the standalone side): the bucket sides and the cluster's
 * invalidations, without the local controls nor the standalone's invalidations (its slowlog
 * settings are not this bench's to change). It uses namespaces `bench-cluster*` only, and sets
 * each master's slowlog for the invalidations, restoring its settings after (its entries are reset).
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import Keyv from 'keyv';
import { CleverStore } from '../lib/index.js';
import { DEFAULTS } from '../lib/store/store.js';
import { LocalCluster, clusterNodesFromEnv } from '../test/support/cluster.js';
import { PrivateRedis } from '../test/support/redis-server.js';
import {
  REDIS_URL, Slowlog, adminClient, alternate, latencies, median, percentile, printTable, ratio, sampleValue, throughput, unlinkMatching,
  type Cell, type Op,
} from './common.js';
import { Wire } from './cluster-wire.js';

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
/** the store's cost ratio cluster/standalone, at most this times the wire's (issue 19) */
const TARGET_OVER_WIRE = 1.1;
const OTHER_BUCKETS = [64, 4];
const TARGET_CALL_US = 10_000;
/** the sides whose longest invalidation call issue 19 bounds */
const CALL_TARGET_SIDES = ['standalone', '1-node cluster'];
const SLOWLOG_LEN = 10_000;
const SLOWLOG_THRESHOLD_US = 100;

type Nodes = Array<{ host: string; port: number }>;

interface Scenario {
  name: string;
  op: (kv: Keyv) => Op;
  /** the wire's op this one is measured against */
  wire: 'get' | 'set';
  /** issue 19 bounds its cost ratio over the wire's */
  target: boolean;
}

/** Describes the cluster compared, for the tables' notes. */
interface Topology {
  nodes: Nodes;
  /** started here (6 processes on this machine's cores), or given with CLUSTER_NODES */
  local: boolean;
  /** the standalone Redis's URL */
  standalone: string;
}

const topologyNote = (t: Topology): string[] => (t.local
  ? ['The local cluster: 3 masters, 3 replicas; all 6 redis-server processes share the machine\'s 2 cores with this process: every',
    'round trip waits for a core. standalone: a private redis-server with the cluster nodes\' settings (no persistence).']
  : [`cluster: CLUSTER_NODES (${t.nodes.map((n) => `${n.host}:${n.port}`).join(', ')}); standalone: ${t.standalone}.`]);

const scenarios: Scenario[] = [
  {
    name: 'get (hit)',
    wire: 'get',
    target: true,
    op: (kv) => async (i) => {
      if ((await kv.get(`g${(i * 7919) % KEYS}`)) === undefined) throw new Error('get: unexpected miss');
    },
  },
  {
    name: 'set, no dependencies',
    wire: 'set',
    target: true,
    op: (kv) => async (i) => {
      if (!(await kv.set(`s${i % KEYS}`, sampleValue(i), TTL))) throw new Error('set failed');
    },
  },
  {
    name: 'set, 3 deps',
    wire: 'set',
    target: false,
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

/** A target's line: its name, the figure, the bound, met or not. */
type TargetLine = [name: string, figure: string, bound: string, met: boolean | undefined];

const range = (xs: number[]): string => `${ratio(Math.min(...xs))}..${ratio(Math.max(...xs))}`;

/**
 * Measures every scenario side by side: the store standalone and on the cluster, the wire alone
 * on both, and the other sides, in alternating rounds. Returns the get and set targets' lines.
 */
async function throughputs(topology: Topology, wire: Wire, standalone: Keyv, cluster: Keyv, others: Keyv[], labels: string[]): Promise<TargetLine[]> {
  for (const kv of [standalone, cluster, ...others]) await preload(kv);
  const rows: Cell[][] = [];
  const otherRows: Cell[][] = [];
  const seqRows: Cell[][] = [];
  const targets: TargetLine[] = [];
  for (const s of scenarios) {
    const ops = [s.op(standalone), s.op(cluster), wire[s.wire]('standalone'), wire[s.wire]('cluster'), ...others.map((kv) => s.op(kv))];
    const [a, b, wa, wb, ...rest] = await alternate(ops.map((op) => () => throughput(op, WORKERS, ROUND_MS)), ROUNDS,
      ops.map((op) => () => throughput(op, WORKERS, 200))) as number[][];
    // per round: cluster's time per op / standalone's, for the store and for the wire, and the one over the other
    const cost = a!.map((x, i) => x / b![i]!);
    const wireCost = wa!.map((x, i) => x / wb![i]!);
    const over = cost.map((c, i) => c / wireCost[i]!);
    const mid = median(over);
    if (s.target) targets.push([`${s.name}: store's cost ratio / the wire's`, ratio(mid), `<= ${TARGET_OVER_WIRE}x`, mid <= TARGET_OVER_WIRE]);
    rows.push([s.name, Math.round(median(a!)), Math.round(median(b!)), ratio(median(cost)), Math.round(median(wa!)), Math.round(median(wb!)),
      ratio(median(wireCost)), ratio(mid), range(over), s.target ? `<= ${TARGET_OVER_WIRE}x` : '-', s.target ? (mid <= TARGET_OVER_WIRE ? 'yes' : 'NO') : '-']);
    otherRows.push([s.name, ...rest.flatMap((c) => [Math.round(median(c)), ratio(median(a!.map((x, i) => x / c[i]!)))])]);
    const [la, lb] = await alternate(ops.slice(0, 2).map((op) => () => latencies(op, SEQ_MS)), SEQ_ROUNDS) as [number[][], number[][]];
    seqRows.push([s.name, percentile(la.flat(), 50).toFixed(0), percentile(la.flat(), 99).toFixed(0),
      percentile(lb.flat(), 50).toFixed(0), percentile(lb.flat(), 99).toFixed(0)]);
  }
  printTable(`CleverStore through Keyv and the wire alone, standalone vs cluster, ${WORKERS} concurrent workers, ops/s (median of ${ROUNDS} alternating rounds of ${ROUND_MS} ms)`,
    ['operation', 'standalone', 'cluster', 'cost ratio', 'wire standalone', 'wire cluster', 'wire ratio', 'store/wire', 'store/wire range', 'target', 'met'], rows,
    ['cost ratio = per round, standalone ops/s / cluster ops/s (time per operation on the cluster relative to standalone); wire ratio',
      'the same for the wire alone (ioredis, no Keyv, no store: each tick\'s gets for one Redis process as one MGET, its sets as one',
      `pipeline of SET PX; keys under one hash tag per master); store/wire = median over rounds of the one over the other (the set with`,
      `3 deps against the wire's plain sets). What spreading the work over ${wire.masters} masters costs any client here is the wire's; the store's`,
      'own extra is what the target bounds.',
      `standalone: 1 bucket, one connection. cluster: ${DEFAULTS.clusterBuckets} buckets (default) over its masters (the replicas replicating every write),`,
      'one connection per node; the gets bound for one node are one read (a read script across its buckets, or MGET for one',
      'bucket), their sets one set script call, and while a node answers one, the calls for it wait and go together next.',
      ...topologyNote(topology)]);
  printTable('The other sides, measured in the same rounds: CleverStore through Keyv, ops/s and the cost ratio against the standalone',
    ['operation', ...labels.flatMap((label) => [label, 'its ratio'])], otherRows,
    topology.local ? [
      `1-node cluster: the same client code (ioredis Cluster, ${DEFAULTS.clusterBuckets} buckets, per-node read and write) against one redis-server.`,
      'no replicas: a cluster of 3 masters without replicas (3 redis-server processes), the same client code: what replication adds.'] : []);
  printTable(`Sequential (1 op in flight), latency µs (${SEQ_ROUNDS} alternating rounds of ${SEQ_MS} ms)`,
    ['operation', 'standalone p50', 'standalone p99', 'cluster p50', 'cluster p99'], seqRows);
  return targets;
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

/** Where invalidations run: a name and a connection of its own to each master (the standalone: one). */
interface Side { name: string; masters: Redis[] }

/** Invalidation runs: [label, store, entries, its side's name, masters at real-time priority meanwhile]. */
type InvalidationCase = [string, CleverStore, number, string, boolean?];

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

/** Runs the cases; returns the longest script call (µs) seen on each side. */
async function invalidations(topology: Topology, sides: Side[], cases: InvalidationCase[]): Promise<Map<string, number>> {
  const nodes = sides.flatMap((s) => s.masters);
  const slowlogs = nodes.map((n) => new Slowlog(n));
  const pids = topology.local ? await Promise.all(sides[0]!.masters.map(pidOf)) : [];
  const longest = new Map<string, number>();
  try {
    const rows: Cell[][] = [];
    for (const [label, store, n, sideName, rt] of cases) {
      const side = sides.find((s) => s.name === sideName)!;
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
        const probes = side.masters.map(async (node) => {
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
        const max = Math.max(0, ...maxPerNode);
        if (!rt) longest.set(sideName, Math.max(longest.get(sideName) ?? 0, max));
        rows.push([label, durations.length, ms.toFixed(0), Math.round(n / (ms / 1000)),
          Math.round(median(durations)), Math.round(percentile(durations, 99)), max, maxPerNode.join('/'), max <= TARGET_CALL_US ? 'yes' : 'NO',
          `${percentile(pings, 99).toFixed(1)} / ${Math.max(...pings).toFixed(1)}`]);
        if (perNode.some((r) => r.truncated)) console.log('  warning: a slowlog filled up; call counts may be low');
      } finally {
        if (rt) await realtime(pids, false).catch(() => undefined);
        for (const s of slowlogs) await s.restore();
      }
    }
    printTable(`invalidate('big') (cluster: ${DEFAULTS.clusterBuckets} buckets; invalidateChunk ${DEFAULT_CHUNK} per bucket and call)`,
      ['case', 'script calls', 'total ms', 'entries/s', 'median call µs', 'p99 call µs', 'max call µs', 'max per master µs', `max <= ${TARGET_CALL_US / 1000} ms`, 'PING p99 / max ms'], rows,
      ['each entry depends on [big, item:<k>, group:<k % (n/100)>]. Every bucket gets its first call at once; the calls that continue',
        'go one at a time per master (the masters in parallel).',
        `Call durations: server-side wall time, per-master SLOWLOG (slower than ${SLOWLOG_THRESHOLD_US} µs), EVALSHA of this store's connections`,
        'only (shorter calls are not counted).',
        ...(topology.local ? ['On the 3+3 cluster the 3 masters run their calls at once while their replicas apply them, 6 processes on 2 cores: a',
          'call takes ~3x its standalone time there, and its wall time includes the time its process waits for a core.'] : topologyNote(topology)),
        `budget = invalidateBudget (default ${DEFAULT_BUDGET} ms): each call stops once it has run that long (checked every 50 entries).`,
        ...(topology.local ? [
          'standalone: the private redis-server, 1 bucket (the default).',
          `1-node cluster: the same ${DEFAULTS.clusterBuckets} buckets and calls on one redis-server holding every slot (no replica): cluster mode without`,
          'the other 5 processes competing for the 2 cores. no replicas: 3 masters without replicas (3 processes).',
          'masters real-time: the 3+3 cluster with its 3 masters under SCHED_FIFO during the invalidation (chrt, root): no other process',
          'preempts a call once it runs, as when each master has a core of its own; a call\'s wall time is then what it costs Redis.'] : []),
        'PING: another client (this process) pings each master every millisecond during the invalidation: round trip, client side.']);
  } finally {
    for (const s of slowlogs) await s.restore().catch(() => undefined);
    for (const node of nodes) node.disconnect();
  }
  return longest;
}

/** Prints issue 19's cluster targets, each with met / NOT met. */
function printTargets(lines: TargetLine[]): void {
  const width = Math.max(...lines.map(([name]) => name.length));
  console.log(['\nTargets (issue 19, Redis Cluster)',
    ...lines.map(([name, figure, bound, met]) => `  ${name.padEnd(width)}  ${figure.padStart(8)}  ${bound.padEnd(9)}  ${met === undefined ? 'not measured' : met ? 'met' : 'NOT met'}`)].join('\n'));
}

/** The clusters and the standalone Redis compared, started here unless CLUSTER_NODES names a cluster. */
interface Servers {
  topology: Topology;
  /** the local controls (a one-node cluster, 3 masters without replicas): next to a local cluster only */
  controls: Array<[label: string, nodes: Nodes]>;
  /** the private standalone redis-server (a local cluster only) */
  standalone?: PrivateRedis;
  stop(): Promise<void>;
}

async function startServers(): Promise<Servers> {
  const given = clusterNodesFromEnv();
  const started: LocalCluster[] = [];
  let standalone: PrivateRedis | undefined;
  const stop = async (): Promise<void> => {
    for (const c of started) await c.stop();
    await standalone?.stop();
  };
  if (given) return { topology: { nodes: given, local: false, standalone: REDIS_URL }, controls: [], stop };
  try {
    const cluster = await LocalCluster.start();
    started.push(cluster);
    const single = await LocalCluster.start(1);
    started.push(single);
    const bare = await LocalCluster.start(3, 0);
    started.push(bare);
    standalone = await PrivateRedis.start();
    return {
      topology: { nodes: cluster.nodes, local: true, standalone: standalone.url },
      controls: [['1-node cluster', single.nodes], ['no replicas', bare.nodes]],
      standalone,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export default async function run(): Promise<void> {
  const servers = await startServers();
  const { topology, controls } = servers;
  const admin = topology.local ? undefined : adminClient('keyv-clever-bench-cluster-admin');
  const on = (nodes: Nodes, options: Record<string, unknown> = {}) => new CleverStore({ cluster: nodes, connectionName: CLIENT, sweepInterval: 0, ...options });
  const standaloneStore = new CleverStore(topology.standalone, { connectionName: CLIENT, sweepInterval: 0 });
  const clusterStore = on(topology.nodes);
  const otherStores = [...OTHER_BUCKETS.map((buckets) => on(topology.nodes, { buckets })), ...controls.map(([, nodes]) => on(nodes))];
  const labels = [...OTHER_BUCKETS.map((n) => `${n} buckets`), ...controls.map(([label]) => label)];
  const inv = { namespace: `${NS}-inv` };
  const invalidating = on(topology.nodes, inv);
  const budgeted = BUDGETS.map((invalidateBudget) => on(topology.nodes, { ...inv, invalidateBudget }));
  const invalidatingControls = controls.map(([, nodes]) => on(nodes, inv));
  const invalidatingStandalone = servers.standalone ? new CleverStore(servers.standalone.url, { connectionName: CLIENT, sweepInterval: 0, ...inv }) : undefined;
  const invalidators = [invalidating, ...budgeted, ...invalidatingControls, ...(invalidatingStandalone ? [invalidatingStandalone] : [])];
  for (const s of [standaloneStore, clusterStore, ...otherStores, ...invalidators]) s.on('error', (e) => console.error('CleverStore error:', e.message));
  const standalone = new Keyv({ store: standaloneStore, namespace: NS });
  const onCluster = new Keyv({ store: clusterStore, namespace: NS });
  const others = otherStores.map((store, i) => new Keyv({ store, namespace: `${NS}-${i}` }));
  let wire: Wire | undefined;
  try {
    if (admin) await unlinkMatching(admin, `{${NS}*`);
    wire = await Wire.open(topology.standalone, topology.nodes, `${NS}-wire`, KEYS, TTL, CLIENT);
    const targets = await throughputs(topology, wire, standalone, onCluster, others, labels);
    await wire.close();
    wire = undefined;
    for (const kv of [standalone, onCluster, ...others]) await kv.clear();
    const big = SIZES[SIZES.length - 1]!;
    const label = (n: number) => n.toLocaleString('en-US');
    const sides: Side[] = [{ name: 'cluster', masters: await masters(topology.nodes) }];
    for (const [name, nodes] of controls) sides.push({ name, masters: await masters(nodes) });
    if (servers.standalone) sides.push({ name: 'standalone', masters: [new Redis(servers.standalone.port, '127.0.0.1', { connectionName: `${CLIENT}-admin` })] });
    const [single] = invalidatingControls;
    const longest = await invalidations(topology, sides, [
      ...SIZES.map((n): InvalidationCase => [`${label(n)} entries`, invalidating, n, 'cluster']),
      ...budgeted.map((store, i): InvalidationCase => [`${label(big)}, budget ${BUDGETS[i]} ms`, store, big, 'cluster']),
      ...(invalidatingStandalone ? SIZES.map((n): InvalidationCase => [`${label(n)}, standalone`, invalidatingStandalone, n, 'standalone']) : []),
      ...(single ? SIZES.map((n): InvalidationCase => [`${label(n)}, ${controls[0]![0]}`, single, n, controls[0]![0]]) : []),
      ...invalidatingControls.slice(1).map((store, i): InvalidationCase => [`${label(big)}, ${controls[i + 1]![0]}`, store, big, controls[i + 1]![0]]),
      ...(topology.local ? [[`${label(big)}, masters real-time`, invalidating, big, 'cluster', true] as InvalidationCase] : []),
    ]);
    for (const name of CALL_TARGET_SIDES) {
      const max = longest.get(name);
      targets.push([`invalidation, longest script call, ${name}`, max === undefined ? '-' : `${(max / 1000).toFixed(1)} ms`, `<= ${TARGET_CALL_US / 1000} ms`,
        max === undefined ? undefined : max <= TARGET_CALL_US]);
    }
    printTargets(targets);
    for (const store of invalidators) await store.clear();
  } finally {
    await wire?.close().catch(() => undefined);
    if (admin) await unlinkMatching(admin, `{${NS}*`).catch(() => undefined);
    admin?.disconnect();
    for (const kv of [standalone, onCluster, ...others]) await kv.disconnect().catch(() => undefined);
    for (const store of invalidators) await store.disconnect().catch(() => undefined);
    await servers.stop();
  }
}
