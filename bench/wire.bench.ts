/**
 * How close CleverStore gets to the wire limit: its get and set (no dependencies) at 50
 * concurrent callers vs `redis-benchmark -t get,set -n 100000 -c 50` (the C client, plain GET /
 * SET, one connection per client) against the same Redis and db, in alternating rounds.
 * redis-benchmark runs once with one command in flight per connection (the usual wire figure)
 * and once pipelining 24 commands per connection (-P 24, the size at which CleverStore sends a
 * same-tick batch). Values are the size of what CleverStore stores here (-d).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Keyv from 'keyv';
import { CleverStore } from '../lib/index.js';
import { REDIS_URL, adminClient, alternate, median, printTable, ratio, sampleValue, throughput, unlinkMatching, type Cell, type Op } from './common.js';

const exec = promisify(execFile);
const NS = 'bench-wire';
const KEYS = 10_000;
const TTL = 600_000;
const WORKERS = 50;
const REQUESTS = 100_000;
const ROUNDS = 4;
const ROUND_MS = 1000;
const PIPELINE = 24;

/** One redis-benchmark run: requests per second of GET and SET. */
async function redisBenchmark(size: number, pipeline: number): Promise<{ get: number; set: number }> {
  const url = new URL(REDIS_URL);
  const args = ['-h', url.hostname, '-p', url.port || '6379', '--dbnum', url.pathname.slice(1) || '0',
    '-t', 'get,set', '-n', String(REQUESTS), '-c', String(WORKERS), '-r', String(KEYS), '-d', String(size), '-P', String(pipeline), '--csv'];
  const { stdout } = await exec('redis-benchmark', args, { timeout: 120_000 });
  const rps = (test: string) => Number(new RegExp(`^"${test}","([\\d.]+)"`, 'm').exec(stdout)?.[1] ?? NaN);
  return { get: rps('GET'), set: rps('SET') };
}

export default async function run(): Promise<void> {
  const admin = adminClient('keyv-clever-bench-wire-admin');
  const store = new CleverStore(REDIS_URL, { connectionName: 'keyv-clever-bench-wire', namespace: NS, sweepInterval: 0 });
  store.on('error', (e) => console.error('CleverStore error:', e.message));
  const keyv = new Keyv({ store, namespace: NS });
  const value = JSON.stringify({ value: sampleValue(1) }); // what Keyv hands the store for these values
  const cleanup = async () => {
    await unlinkMatching(admin, `{${NS}:*`);
    await unlinkMatching(admin, 'key:[0-9]*'); // redis-benchmark's keys (-r: key:<12 digits>)
  };
  try {
    await cleanup();
    for (let i = 0; i < KEYS; i += 500) {
      await store.setMany(Array.from({ length: Math.min(500, KEYS - i) }, (_, j) => ({ key: `g${i + j}`, value, ttl: TTL })));
    }
    const ops: Record<string, Op> = {
      'store.get': async (i) => {
        if ((await store.get(`g${(i * 7919) % KEYS}`)) === undefined) throw new Error('get: unexpected miss');
      },
      'store.set': async (i) => {
        if (!(await store.set(`s${i % KEYS}`, value, TTL))) throw new Error('set failed');
      },
      'keyv.get': async (i) => {
        if ((await keyv.get(`g${(i * 7919) % KEYS}`)) === undefined) throw new Error('get: unexpected miss');
      },
      'keyv.set': async (i) => {
        if (!(await keyv.set(`s${i % KEYS}`, sampleValue(i), TTL))) throw new Error('set failed');
      },
    };
    const names = Object.keys(ops);
    const sides: Array<() => Promise<number[]>> = [
      ...names.map((n) => async () => [await throughput(ops[n]!, WORKERS, ROUND_MS)]),
      async () => { const r = await redisBenchmark(value.length, 1); return [r.get, r.set]; },
      async () => { const r = await redisBenchmark(value.length, PIPELINE); return [r.get, r.set]; },
    ];
    const figures = await alternate(sides, ROUNDS, names.map((n) => () => throughput(ops[n]!, WORKERS, 200)));
    const mid = (side: number, k = 0) => median(figures[side]!.map((f) => f[k]!));
    const wire = { get: mid(names.length, 0), set: mid(names.length, 1) };
    const piped = { get: mid(names.length + 1, 0), set: mid(names.length + 1, 1) };
    const rows: Cell[][] = names.map((n, i) => {
      const w = n.endsWith('get') ? 'get' : 'set';
      return [n, Math.round(mid(i)), ratio(mid(i) / wire[w]), ratio(mid(i) / piped[w])];
    });
    rows.push(['redis-benchmark GET', Math.round(wire.get), '1.00x', ratio(wire.get / piped.get)]);
    rows.push(['redis-benchmark SET', Math.round(wire.set), '1.00x', ratio(wire.set / piped.set)]);
    rows.push([`redis-benchmark GET -P ${PIPELINE}`, Math.round(piped.get), ratio(piped.get / wire.get), '1.00x']);
    rows.push([`redis-benchmark SET -P ${PIPELINE}`, Math.round(piped.set), ratio(piped.set / wire.set), '1.00x']);
    printTable(`CleverStore vs redis-benchmark, ${WORKERS} concurrent callers / connections, ops/s (median of ${ROUNDS} alternating rounds)`,
      ['operation', 'ops/s', 'vs redis-benchmark', `vs -P ${PIPELINE}`], rows,
      [`redis-benchmark -t get,set -n ${REQUESTS} -c ${WORKERS} -r ${KEYS} -d ${value.length} --dbnum 3 [-P ${PIPELINE}]; CleverStore: ${ROUND_MS} ms per round, one connection.`,
        'store.* = the store called directly with a serialized value; keyv.* = through Keyv (serialization included).',
        'get = hits on preloaded keys; set = PX ttl, no dependencies (one set script call per batch; a lone set is a SET PX). All on the machine\'s 2 cores.']);
  } finally {
    await cleanup().catch(() => undefined);
    await keyv.disconnect().catch(() => undefined);
    admin.disconnect();
  }
}
