/**
 * Index size under churn: 1M writes with a short ttl (each with 3 dependencies, one of them
 * shared), then a steady phase with sweeps. The index must stay bounded: pruned on every touch
 * and by the sweep, it returns to its starting size once the churn stops.
 * Runs on a private redis-server so that its memory figures are the store's alone.
 */
import { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { CleverStore, matching } from '../lib/index.js';
import { PrivateRedis } from '../test/support/redis-server.js';
import { printTable, scanAll } from './common.js';

const TOTAL = Number(process.env.CHURN_WRITES ?? 1_000_000);
const BATCH = 1000;
const TTL = 1000;

async function indexBytes(redis: Redis): Promise<{ keys: number; bytes: number }> {
  const keys = await scanAll(redis, '{churn:*}[ip]:*');
  let bytes = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const pipeline = redis.pipeline();
    for (const k of keys.slice(i, i + 500)) pipeline.memory('USAGE', k, 'SAMPLES', '0');
    for (const [, n] of (await pipeline.exec()) ?? []) bytes += Number(n ?? 0);
  }
  return { keys: keys.length, bytes };
}

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);

export default async function run(): Promise<void> {
  const server = await PrivateRedis.start();
  const redis = new Redis(server.url);
  const store = new CleverStore(server.url, { sweepInterval: 0, namespace: 'churn' });
  const rows: Array<Array<string | number>> = [];
  const sample = async (phase: string) => {
    const { keys, bytes } = await indexBytes(redis);
    rows.push([phase, keys, bytes, await usedMemory(redis), Number(await redis.dbsize())]);
  };
  try {
    await store.set('steady', 'v', { dependsOn: ['steady', 'hot', matching('posts', { id: 1 })] });
    await sample('start (1 steady entry)');
    const started = performance.now();
    for (let i = 0; i < TOTAL; i += BATCH) {
      await store.setMany(Array.from({ length: BATCH }, (_, j) => ({
        key: `churn${i + j}`,
        value: 'v'.repeat(100),
        ttl: { ttl: TTL, dependsOn: ['hot', `group${(i + j) % 5000}`, matching('posts', { id: (i + j) % 500 })] },
      })));
      if ((i + BATCH) % (TOTAL / 4) === 0) await sample(`after ${((i + BATCH) / 1e6).toFixed(2)}M writes`);
    }
    const seconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, TTL + 200));
    await sample('churn stopped, ttl passed');
    const pruned = await store.sweep();
    await sample(`after one sweep (${pruned.toLocaleString('en-US')} members pruned)`);
    printTable(`Index size under churn: ${TOTAL.toLocaleString('en-US')} writes (ttl ${TTL} ms, 3 deps each) in ${seconds.toFixed(1)} s`,
      ['phase', 'index keys', 'index bytes', 'used_memory', 'keys in db'], rows, [
        'index bytes: MEMORY USAGE of every index key ({churn:*}i:* sorted sets and {churn:*}p:* pages); the sweep moves',
        'sorted sets that shrank back into their pages',
        'keys in db includes values whose ttl passed but that Redis has not reclaimed yet (it expires them lazily)',
      ]);
  } finally {
    await store.disconnect();
    redis.disconnect();
    await server.stop();
  }
}
