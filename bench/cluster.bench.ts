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
import { Redis } from 'ioredis';
import Keyv from 'keyv';
import { DEFAULTS } from '../lib/store/store.js';
import { LocalCluster, clusterNodesFromEnv } from '../test/support/cluster.js';
import { PrivateRedis } from '../test/support/redis-server.js';
import {
  REDIS_URL, adminClient, alternate, latencies, median, percentile, printTable, ratio, sampleValue, throughput, unlinkMatching,
  type Cell, type Op,
} from './common.js';
import { pkg } from './package.js';
import { Wire } from './cluster-wire.js';
import { TARGET_CALL_US, invalidations, masters, pidOf, type InvalidationCase, type Side } from './cluster-invalidation.js';

const { CleverStore } = pkg;

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
const BUDGETS = [1, 4];
const WRITE_BATCH = 500;
/** the store's cost ratio cluster/standalone, at most this times the wire's (issue 19) */
const TARGET_OVER_WIRE = 1.1;
const OTHER_BUCKETS = [64, 4];
/** the sides whose longest invalidation call issue 19 bounds */
const CALL_TARGET_SIDES = ['standalone', '1-node cluster'];

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
    const connections: Array<[string, Redis[]]> = [['cluster', await masters(topology.nodes, `${CLIENT}-admin`)]];
    for (const [name, nodes] of controls) connections.push([name, await masters(nodes, `${CLIENT}-admin`)]);
    if (servers.standalone) connections.push(['standalone', [new Redis(servers.standalone.port, '127.0.0.1', { connectionName: `${CLIENT}-admin` })]]);
    const sides: Side[] = await Promise.all(connections.map(async ([name, nodes]) => ({ name, masters: nodes, pids: topology.local ? await Promise.all(nodes.map(pidOf)) : [] })));
    const [single] = invalidatingControls;
    const longest = await invalidations({ local: topology.local, note: topologyNote(topology), client: CLIENT }, sides, [
      ...SIZES.map((n): InvalidationCase => [`${label(n)} entries`, invalidating, n, 'cluster']),
      ...budgeted.map((store, i): InvalidationCase => [`${label(big)}, budget ${BUDGETS[i]} ms`, store, big, 'cluster']),
      ...(invalidatingStandalone ? SIZES.map((n): InvalidationCase => [`${label(n)}, standalone`, invalidatingStandalone, n, 'standalone']) : []),
      ...(single ? SIZES.map((n): InvalidationCase => [`${label(n)}, ${controls[0]![0]}`, single, n, controls[0]![0]]) : []),
      ...invalidatingControls.slice(1).map((store, i): InvalidationCase => [`${label(big)}, ${controls[i + 1]![0]}`, store, big, controls[i + 1]![0]]),
      ...(topology.local ? [
        [`${label(big)}, masters real-time`, invalidating, big, 'cluster', true],
        ...(invalidatingStandalone ? [[`${label(big)}, standalone real-time`, invalidatingStandalone, big, 'standalone', true] as InvalidationCase] : []),
        ...(single ? [[`${label(big)}, 1-node real-time`, single, big, controls[0]![0], true] as InvalidationCase] : []),
      ] as InvalidationCase[] : []),
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
