/**
 * CleverStore vs @keyv/redis, both through stock Keyv on the same Redis, measured side by side
 * in alternating rounds: get hit, set without dependencies, set with 3 dependencies (against
 * @keyv/redis's plain set: it has no dependencies to write), getMany of 100.
 * Concurrent: WORKERS async loops issuing ops on one connection per store (each library's
 * default). Sequential: one op in flight, latency percentiles.
 */
import Keyv from 'keyv';
import KeyvRedis, { createClient } from '@keyv/redis';
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { CleverSetOptions } from '../lib/index.js';
import { pkg } from './package.js';
import { scripts } from '../lib/lua/index.js';
import {
  REDIS_URL, adminClient, alternate, latencies, median, percentile, printTable, ratio, sampleValue, throughput, unlinkMatching,
  type Cell, type Op,
} from './common.js';
import { PrivateRedis } from '../test/support/redis-server.js';

const { CleverStore } = pkg;

const NS = 'bench-store';
const KEYS = 10_000; // distinct keys per scenario
const TTL = 600_000; // 10 min, like a real cache
const FRESH_TTL = 5_000;
const WORKERS = 50;
const ROUNDS = 8; // concurrent rounds per side
const ROUND_MS = 300;
const SEQ_ROUNDS = 6;
const SEQ_MS = 150;
const MANY = 100;
const BASE_ROUNDS = 4;
const BASE_MS = 300;

interface Scenario {
  name: string;
  target?: { min: number; label: string };
  /** one op in flight: CleverStore's p50 latency at most 1.1x @keyv/redis's */
  seqTarget?: boolean;
  /** the op per side: [clever, keyv-redis] */
  ops: [Op, Op];
}

function scenarios(clever: Keyv, redis: Keyv): Scenario[] {
  const key = (prefix: string, i: number) => `${prefix}${i % KEYS}`;
  const getOp = (kv: Keyv): Op => async (i) => {
    const v = await kv.get(key('g', i * 7919)); // scattered over the preloaded keys
    if (v === undefined) throw new Error('get: unexpected miss');
  };
  const setOp = (kv: Keyv, prefix: string): Op => async (i) => {
    if (!(await kv.set(key(prefix, i), sampleValue(i), TTL))) throw new Error('set failed');
  };
  const setDepsOp = (kv: Keyv): Op => async (i) => {
    const k = i % KEYS;
    // one tag of its own, one shared by 10 entries, one shared by all (e.g. the table)
    const ok = await kv.set(`d${k}`, sampleValue(i), { ttl: TTL, dependsOn: [`post:${k}`, `author:${k % 1000}`, 'posts'] });
    if (!ok) throw new Error('set with dependencies failed');
  };
  // Every write a key never written before (short ttl, so they go away): the full index path.
  let fresh = 0;
  const freshDepsOp = (kv: Keyv): Op => async () => {
    const k = fresh++;
    const ok = await kv.set(`n${k}`, sampleValue(k), { ttl: FRESH_TTL, dependsOn: [`post:${k}`, `author:${k % 1000}`, 'posts'] });
    if (!ok) throw new Error('set with dependencies failed');
  };
  const freshOp = (kv: Keyv): Op => async () => {
    const k = fresh++;
    if (!(await kv.set(`n${k}`, sampleValue(k), FRESH_TTL))) throw new Error('set failed');
  };
  const manyOp = (kv: Keyv): Op => async (i) => {
    const start = (i * MANY) % (KEYS - MANY);
    const keys = Array.from({ length: MANY }, (_, j) => `g${start + j}`);
    const values = await kv.getMany(keys);
    for (const v of values) if (v === undefined) throw new Error('getMany: unexpected miss');
  };
  return [
    // Targets: the performance issue's (concurrent ratios; sequential p50 latency at most 1.1x).
    { name: 'get (hit)', target: { min: 1.1, label: '>= 1.1x' }, seqTarget: true, ops: [getOp(clever), getOp(redis)] },
    { name: 'set, no dependencies', target: { min: 1.0, label: '>= 1.0x' }, seqTarget: true, ops: [setOp(clever, 's'), setOp(redis, 's')] },
    { name: 'set, 3 deps (vs plain set)', target: { min: 0.8, label: '>= 0.8x' }, ops: [setDepsOp(clever), setOp(redis, 's')] },
    { name: 'set, 3 deps, new keys (vs plain)', target: { min: 0.8, label: '>= 0.8x' }, ops: [freshDepsOp(clever), freshOp(redis)] },
    { name: `getMany(${MANY}) (hits)`, target: { min: 1.0, label: '>= 1.0x' }, ops: [manyOp(clever), manyOp(redis)] },
  ];
}

async function preload(sides: Keyv[]): Promise<void> {
  for (const keyv of sides) {
    for (let i = 0; i < KEYS; i += 500) {
      const batch = Array.from({ length: Math.min(500, KEYS - i) }, (_, j) => ({ key: `g${i + j}`, value: sampleValue(i + j), ttl: TTL }));
      await keyv.setMany(batch); // @keyv/redis's setMany resolves to nothing: the get ops check for misses
    }
  }
}

/**
 * The exact (prefix, args) CleverStore.set sends to its set script for each write, captured
 * without sending (a client whose script command is replaced), so the baseline below replays
 * what the current lib sends, whatever its argument format.
 */
async function captureSetArgs(writes: Array<[string, string, number | CleverSetOptions]>): Promise<Array<[string, Array<string | number>]>> {
  const client = new Redis(REDIS_URL, { lazyConnect: true });
  const store = new CleverStore({ redis: client, namespace: NS, onUnsafeEviction: 'ignore', sweepInterval: 0 });
  const out: Array<[string, Array<string | number>]> = [];
  (client as unknown as Record<string, unknown>).keyvCleverSet = async (prefix: string, ...args: Array<string | number | Array<string | number>>) => {
    out.push([prefix, args.flat()]);
    return [1];
  };
  try {
    for (const [key, value, options] of writes) await store.set(key, value, options);
  } finally {
    await store.disconnect().catch(() => undefined);
    client.disconnect();
  }
  return out;
}

/**
 * The client libraries alone (no Keyv, no store code): ioredis (CleverStore's client) vs
 * node-redis (@keyv/redis's client), on GET, SET and the store's own set script via EVALSHA
 * with the arguments CleverStore.set sends. Shows how much of the Keyv-level gap is the client
 * library and how much is the script's cost in Redis.
 */
async function clientBaseline(): Promise<void> {
  const io = new Redis(REDIS_URL, { connectionName: 'keyv-clever-bench-raw' });
  const nr = createClient({ url: REDIS_URL });
  await nr.connect();
  try {
    const sha = (await io.script('LOAD', scripts.set)) as string;
    const value = JSON.stringify({ value: sampleValue(1) });
    // A lone write without dependencies is a plain SET PX (no script): only the 3-dep write has one.
    // (A store's first write to a namespace runs the script: it checks the recorded bucket count.)
    if ((await captureSetArgs([['r0', value, TTL], ['r1', value, TTL]])).length !== 1) throw new Error('a plain set ran the set script');
    const withDeps = await captureSetArgs(Array.from({ length: KEYS }, (_, k) => [`q${k}`, value,
      { ttl: TTL, dependsOn: [`post:${k}`, `author:${k % 1000}`, 'posts'] }]));
    const p = withDeps[0]![0];
    // The namespace's bucket count, as the store records it at its first write (see register.lua).
    await io.set(`${p}m:`, 1, 'NX');
    for (let i = 0; i < KEYS; i += 1000) await io.mset(...Array.from({ length: 1000 }, (_, j) => [`${p}v:r${i + j}`, value]).flat());
    const check = (reply: unknown) => {
      if (!Array.isArray(reply) || Number(reply[0]) !== 1) throw new Error(`set script replied ${JSON.stringify(reply)}`);
    };
    const ioScript = (calls: typeof withDeps): Op => async (i) => {
      const [prefix, args] = calls[i % calls.length]!;
      check(await io.evalsha(sha, 1, prefix, ...args));
    };
    const nrScript = (calls: typeof withDeps): Op => async (i) => {
      const [prefix, args] = calls[i % calls.length]!;
      check(await nr.evalSha(sha, { keys: [prefix], arguments: args.map(String) }));
    };
    const rows: Array<[string, Op, Op]> = [
      ['GET', (i) => io.get(`${p}v:r${(i * 7919) % KEYS}`), (i) => nr.get(`${p}v:r${(i * 7919) % KEYS}`)],
      ['SET PX', (i) => io.set(`${p}v:r${i % KEYS}`, value, 'PX', TTL), (i) => nr.set(`${p}v:r${i % KEYS}`, value, { PX: TTL })],
      ['EVALSHA set.lua, 3 deps', ioScript(withDeps), nrScript(withDeps)],
    ];
    const out: Cell[][] = [];
    for (const [name, a, b] of rows) {
      const [x, y] = await alternate([a, b].map((op) => () => throughput(op, WORKERS, BASE_MS)), BASE_ROUNDS,
        [a, b].map((op) => () => throughput(op, WORKERS, 150))) as [number[], number[]];
      // One command in flight: the latency the sequential targets compare, for the clients alone.
      const [lx, ly] = await alternate([a, b].map((op) => () => latencies(op, SEQ_MS)), SEQ_ROUNDS) as [number[][], number[][]];
      const speed = median(lx.map((l, i) => percentile(ly[i]!, 50) / percentile(l, 50)));
      out.push([name, Math.round(median(x)), Math.round(median(y)), ratio(pairedRatio(x, y).mid), ratio(speed)]);
    }
    printTable(`Client libraries alone, ${WORKERS} concurrent workers, ops/s (median of ${BASE_ROUNDS} alternating rounds of ${BASE_MS} ms)`,
      ['command', 'ioredis', 'node-redis', 'ioredis/node-redis', 'one at a time: p50 speed'], out,
      ['set.lua = the store\'s set script with the arguments CleverStore.set sends (captured), i.e. the Redis-side work of a set',
        'with dependencies; its ops/s bound such sets whatever the client. A lone set without dependencies is the SET PX above.',
        'Same keys, values and dependencies as below. p50 speed = node-redis p50 latency / ioredis p50 latency, one command in',
        'flight (median over rounds): the most an ioredis-based store can reach on the sequential targets below.']);
  } finally {
    io.disconnect();
    await nr.quit().catch(() => undefined);
  }
}

/** A Keyv store that keeps values in a Map: what Keyv itself costs per call, with no client at all. */
class MapStore extends EventEmitter {
  readonly opts = {};
  namespace?: string;
  private readonly map = new Map<string, string>();
  async get(key: string) { return this.map.get(key); }
  async set(key: string, value: string) { this.map.set(key, value); return true; }
  async delete(key: string) { return this.map.delete(key); }
  async clear() { this.map.clear(); }
}

/** The simplest ioredis store: one GET or SET PX per call, as a store without batching sends them. */
class PlainIoredisStore extends EventEmitter {
  readonly opts = {};
  namespace?: string;
  constructor(readonly client: Redis) { super(); }
  async get(key: string) { return (await this.client.get(key)) ?? undefined; }
  async set(key: string, value: string, ttl?: number) { await (ttl ? this.client.set(key, value, 'PX', ttl) : this.client.set(key, value)); return true; }
  async delete(key: string) { return (await this.client.del(key)) > 0; }
  async clear() {}
}

/** Node CPU per call (user + system), `calls` calls from WORKERS loops: what a side costs the application's process. */
async function cpuPerCall(op: Op, calls: number): Promise<number> {
  let next = 0;
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    while (next < calls) await op(next++);
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}

/**
 * Where a call's time goes in the application's process, the part throughput hides on a busy
 * machine: Node CPU µs per get and per plain set through Keyv, for Keyv over a Map (Keyv's own
 * share), over the simplest ioredis store, over @keyv/redis and over CleverStore.
 */
async function cpuShares(clever: Keyv, redis: Keyv): Promise<void> {
  const io = new Redis(REDIS_URL, { connectionName: 'keyv-clever-bench-plain' });
  const sides: Array<[string, Keyv]> = [
    ['Keyv over a Map (Keyv alone)', new Keyv({ store: new MapStore(), namespace: NS })],
    ['Keyv + plain ioredis store', new Keyv({ store: new PlainIoredisStore(io), namespace: NS })],
    ['Keyv + @keyv/redis', redis],
    ['Keyv + CleverStore', clever],
  ];
  const CALLS = 10_000;
  try {
    const rows: Cell[][] = [];
    for (const [name, kv] of sides) {
      await kv.setMany(Array.from({ length: 1000 }, (_, k) => ({ key: `c${k}`, value: sampleValue(k), ttl: TTL })));
      rows.push([name]);
    }
    const ops: Array<(kv: Keyv) => Op> = [
      (kv) => async (i) => { if ((await kv.get(`c${(i * 7919) % 1000}`)) === undefined) throw new Error('get: unexpected miss'); },
      (kv) => async (i) => { if (!(await kv.set(`c${i % 1000}`, sampleValue(i), TTL))) throw new Error('set failed'); },
    ];
    for (const make of ops) {
      const figures = await alternate(sides.map(([, kv]) => () => cpuPerCall(make(kv), CALLS)), ROUNDS, sides.map(([, kv]) => () => cpuPerCall(make(kv), CALLS)));
      figures.forEach((f, i) => rows[i]!.push(median(f).toFixed(2)));
    }
    printTable(`Node CPU per call through Keyv, µs (${WORKERS} concurrent workers, median of ${ROUNDS} alternating rounds of ${CALLS} calls)`,
      ['side', 'get', 'plain set'], rows,
      ['Keyv alone = Keyv over an in-memory Map: its own share of every side\'s figure (serialization, events, hooks).',
        'plain ioredis store = one GET / SET PX per call: what ioredis costs a store that does not batch.']);
  } finally {
    io.disconnect();
  }
}

/** CPU seconds the Redis process has used (INFO cpu: user + system, its main thread and the rest). */
async function redisCpu(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  return Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
}

/**
 * The Redis side of a write: Redis CPU per write (INFO cpu, on a private redis-server so that no
 * other client counts; reading and parsing the commands included), for @keyv/redis's SET and for
 * each kind of CleverStore write. Once Redis is the busier process, this bounds a side's writes per second
 * whatever the client does.
 */
async function redisShares(): Promise<void> {
  const server = await PrivateRedis.start();
  const admin = new Redis(server.url);
  const store = new CleverStore(server.url, { namespace: NS, onUnsafeEviction: 'ignore', sweepInterval: 0 });
  const clever = new Keyv({ store, namespace: NS });
  const plain = new Keyv(new KeyvRedis(server.url), { useKeyPrefix: false, namespace: NS });
  const CALLS = 20_000;
  let fresh = 0;
  const sides: Array<[string, Op]> = [
    ['@keyv/redis: set (SET PX)', (i) => plain.set(`s${i % KEYS}`, sampleValue(i), TTL)],
    ['CleverStore: set, no dependencies', (i) => clever.set(`s${i % KEYS}`, sampleValue(i), TTL)],
    ['CleverStore: set, 3 deps', (i) => clever.set(`d${i % KEYS}`, sampleValue(i), { ttl: TTL, dependsOn: [`post:${i % KEYS}`, `author:${i % 1000}`, 'posts'] })],
    ['CleverStore: set, 3 deps, new keys', () => {
      const k = fresh++;
      return clever.set(`n${k}`, sampleValue(k), { ttl: FRESH_TTL, dependsOn: [`post:${k}`, `author:${k % 1000}`, 'posts'] });
    }],
  ];
  try {
    const rows: Cell[][] = [];
    for (const [name, op] of sides) {
      await throughput(op, WORKERS, 200); // the overwriting sides write their keys once first
      const before = await redisCpu(admin);
      let next = 0;
      await Promise.all(Array.from({ length: WORKERS }, async () => {
        while (next < CALLS) await op(next++);
      }));
      const usec = (await redisCpu(admin) - before) * 1e6;
      rows.push([name, (usec / CALLS).toFixed(2), Math.round(1e6 * CALLS / usec)]);
    }
    printTable(`Redis CPU per write, µs (INFO cpu of a private redis-server, ${CALLS} writes from ${WORKERS} workers)`,
      ['write', 'Redis CPU µs per write', 'writes/s one Redis core serves'], rows,
      ['CleverStore sends a tick\'s writes as one set script call; @keyv/redis one SET PX per write.',
        'The last column is 1e6 / µs per write: no client writes faster to one Redis process.']);
  } finally {
    await clever.disconnect().catch(() => undefined);
    await plain.disconnect().catch(() => undefined);
    admin.disconnect();
    await server.stop();
  }
}

/** Median over rounds of the per-round ratio a/b (each round's two figures were taken back to back). */
function pairedRatio(a: number[], b: number[]): { mid: number; lo: number; hi: number } {
  const q = a.map((x, i) => x / b[i]!);
  return { mid: median(q), lo: Math.min(...q), hi: Math.max(...q) };
}

export default async function run(): Promise<void> {
  const admin = adminClient();
  const cleverStore = new CleverStore(REDIS_URL, { connectionName: 'keyv-clever-bench-store' });
  cleverStore.on('error', (e) => console.error('CleverStore error:', e.message));
  const clever = new Keyv({ store: cleverStore, namespace: NS });
  const redis = new Keyv(new KeyvRedis(REDIS_URL), { useKeyPrefix: false, namespace: NS });
  const keyvs = [clever, redis];
  for (const k of keyvs) k.on('error', (e) => console.error('Keyv error:', e));
  const cleanup = async () => {
    await unlinkMatching(admin, `{${NS}:*`);
    await unlinkMatching(admin, `${NS}::*`);
    await unlinkMatching(admin, `${NS}:c*`);
  };
  try {
    await cleanup();
    await clientBaseline();
    await preload(keyvs);
    const list = scenarios(clever, redis);

    // Concurrent throughput: both sides in alternating order, round after round.
    const rows: Cell[][] = [];
    for (const s of list) {
      const [c, r] = await alternate(
        s.ops.map((op) => () => throughput(op, WORKERS, ROUND_MS)),
        ROUNDS,
        s.ops.map((op) => () => throughput(op, WORKERS, 200)), // warm-up; also checks the preload (ops throw on a miss)
      ) as [number[], number[]];
      const q = pairedRatio(c, r);
      rows.push([s.name, Math.round(median(c)), Math.round(median(r)), ratio(q.mid), `${ratio(q.lo)}..${ratio(q.hi)}`,
        s.target?.label ?? '-', s.target ? (q.mid >= s.target.min ? 'yes' : 'NO') : '-']);
    }
    printTable(`Keyv + store, ${WORKERS} concurrent workers, ops/s (median of ${ROUNDS} alternating rounds of ${ROUND_MS} ms)`,
      ['operation', 'CleverStore', '@keyv/redis', 'ratio', 'ratio range', 'target', 'met'], rows,
      ['ratio = median over rounds of CleverStore / @keyv/redis, both measured in the same round; range = lowest..highest round.',
        'CleverStore sends the single gets / sets of one tick as one MGET / one set script call (a lone set without dependencies: SET PX).',
        `${KEYS} keys per scenario, ~250 B JSON values, ttl ${TTL / 1000} s. getMany(${MANY}): ops/s are calls (x${MANY} keys).`,
        'set with deps: dependsOn [post:<k>, author:<k%1000>, \'posts\'] (own / 10 entries / all), same keys overwritten; @keyv/redis side = its plain set.',
        `new keys: the same with a key never written before (ttl ${FRESH_TTL / 1000} s), so every index member is new; @keyv/redis: plain set of new keys.`]);

    // Sequential latency: one op in flight, so every batch holds one call.
    const seqRows: Cell[][] = [];
    for (const s of list) {
      const [cLat, rLat] = await alternate(s.ops.map((op) => () => latencies(op, SEQ_MS)), SEQ_ROUNDS) as [number[][], number[][]];
      const c = cLat.flat();
      const r = rLat.flat();
      const q = pairedRatio(rLat.map((x) => percentile(x, 50)), cLat.map((x) => percentile(x, 50)));
      seqRows.push([s.name, percentile(c, 50).toFixed(0), percentile(c, 99).toFixed(0), percentile(r, 50).toFixed(0), percentile(r, 99).toFixed(0),
        ratio(q.mid), `${ratio(q.lo)}..${ratio(q.hi)}`, s.seqTarget ? '>= 0.91x' : '-', s.seqTarget ? (q.mid >= 1 / 1.1 ? 'yes' : 'NO') : '-']);
    }
    printTable(`Keyv + store, sequential (1 op in flight), latency µs (${SEQ_ROUNDS} alternating rounds of ${SEQ_MS} ms)`,
      ['operation', 'Clever p50', 'Clever p99', '@keyv/redis p50', '@keyv/redis p99', 'speed ratio', 'ratio range', 'target', 'met'], seqRows,
      ['speed ratio = median over rounds of @keyv/redis p50 / CleverStore p50 (>1: CleverStore faster); target: p50 latency at most 1.1x (speed >= 1/1.1)']);

    await cpuShares(clever, redis);
    await redisShares();
  } finally {
    await cleanup().catch(() => undefined);
    for (const k of keyvs) await k.disconnect().catch(() => undefined);
    admin.disconnect();
  }
}
