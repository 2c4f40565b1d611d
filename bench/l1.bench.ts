/**
 * The in-process tier (`l1`): keyv.get hits with and without it (the memory backend through Keyv
 * is the ceiling: Keyv's own per-call cost), the delay from a write in one process until another
 * process's tier drops the entry, and the tier's memory against `maxBytes`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Keyv from 'keyv';
import { CleverStore } from '../lib/index.js';
import { REDIS_URL, alternate, latencies, median, percentile, printTable, ratio, sampleValue, throughput } from './common.js';

const KEYS = 1000;
const here = dirname(fileURLToPath(import.meta.url));

async function hits(): Promise<void> {
  const sides = [
    { name: 'redis', store: new CleverStore(REDIS_URL, { sweepInterval: 0 }) },
    { name: 'redis + l1', store: new CleverStore(REDIS_URL, { sweepInterval: 0, l1: {} }) },
    { name: 'memory backend', store: new CleverStore({ sweepInterval: 0 }) },
  ].map((s) => ({ ...s, keyv: new Keyv({ store: s.store, namespace: 'bench-l1' }) }));
  for (let i = 0; i < KEYS; i++) {
    await sides[0]!.keyv.set(`k${i}`, sampleValue(i));
    await sides[2]!.keyv.set(`k${i}`, sampleValue(i));
  }
  const get = (keyv: Keyv) => (i: number) => keyv.get(`k${i % KEYS}`);
  const warm = sides.map((s) => () => latencies(get(s.keyv), 300));
  const seq = await alternate(sides.map((s) => async () => median(await latencies(get(s.keyv), 400))), 6, warm);
  const con = await alternate(sides.map((s) => () => throughput(get(s.keyv), 50, 400)), 6);
  const [seqRedis, seqL1, seqMem] = seq.map((r) => median(r));
  const [conRedis, conL1, conMem] = con.map((r) => median(r));
  printTable('keyv.get hits (1,000 keys of ~250 bytes)', ['', 'redis', 'redis + l1', 'memory backend', 'l1 vs redis', 'target'], [
    ['one at a time, p50 µs', seqRedis!.toFixed(1), seqL1!.toFixed(1), seqMem!.toFixed(1), ratio(seqL1! / seqRedis!), seqL1! / seqRedis! <= 0.2 ? '<= 0.2x yes' : '<= 0.2x NO'],
    ['50 concurrent, ops/s', Math.round(conRedis!), Math.round(conL1!), Math.round(conMem!), ratio(conL1! / conRedis!), conL1! / conRedis! >= 1.5 ? '>= 1.5x yes' : '>= 1.5x NO'],
  ], [`l1 hits counted: ${sides[1]!.store.stats.l1Hits}; the memory backend through Keyv bounds what any tier can reach`]);
  await sides[0]!.keyv.clear();
  for (const s of sides) await s.store.disconnect();
}

async function invalidationDelay(rounds: number): Promise<void> {
  const ns = `bench-l1-delay-${process.pid}`;
  const writer = new CleverStore(REDIS_URL, { namespace: ns, sweepInterval: 0 });
  const child: ChildProcess = fork(join(here, 'l1-child.ts'), [REDIS_URL, ns], { execArgv: ['--import', 'tsx'] });
  const next = (): Promise<Record<string, number | boolean>> => once(child, 'message').then(([m]) => m as Record<string, number | boolean>);
  await next();
  const delays: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const key = `k${r % 50}`;
    await writer.set(key, `v${r}`, { dependsOn: [`t${r % 50}`] });
    child.send({ key });
    await next(); // held in the child's tier
    const t0 = performance.timeOrigin + performance.now();
    const dropped = next();
    await writer.invalidate(`t${r % 50}`);
    delays.push(((await dropped).dropped as number) - t0);
  }
  child.send({ done: true });
  await once(child, 'exit');
  await writer.clear();
  await writer.disconnect();
  printTable(`delay from an invalidation in one process until another's tier drops the entry (${rounds} invalidations)`, ['', 'p50 ms', 'p99 ms', 'max ms', 'target p99'], [
    ['invalidate() -> tier drop', percentile(delays, 50).toFixed(3), percentile(delays, 99).toFixed(3), Math.max(...delays).toFixed(3), percentile(delays, 99) <= 2 ? '<= 2 ms yes' : '<= 2 ms NO'],
  ], ['wall clock across the two processes; includes the invalidation script itself (one round trip)']);
}

async function memory(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const maxBytes of [256 * 1024, 4 * 1024 * 1024]) {
    const store = new CleverStore(REDIS_URL, { namespace: 'bench-l1-mem', sweepInterval: 0, l1: { maxBytes } });
    const keyv = new Keyv({ store, namespace: 'bench-l1-mem' });
    const n = 20_000;
    for (let i = 0; i < n; i += 500) await store.setMany(Array.from({ length: 500 }, (_, j) => ({ key: `bench-l1-mem:m${i + j}`, value: JSON.stringify({ value: sampleValue(i + j) }) })));
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) await keyv.get(`m${i}`);
    const after = process.memoryUsage().heapUsed;
    const { entries, bytes } = store.l1!;
    rows.push([`maxBytes ${maxBytes / 1024} KiB`, entries, bytes, ratio(bytes / maxBytes), Math.round((after - before) / 1024)]);
    await keyv.clear();
    await store.disconnect();
  }
  printTable('tier memory against maxBytes (20,000 values of ~300 bytes read once each)', ['', 'entries held', 'bytes counted', 'of maxBytes', 'heap growth KiB'], rows,
    ['bytes counted = 2 x (key + value length) + a fixed per-entry overhead; heap growth is indicative (no forced GC)']);
}

export default async function run(): Promise<void> {
  await hits();
  await invalidationDelay(1000);
  await memory();
}
