/**
 * Memory cost of dependencies: N entries written with 3 tags each (two of their own, one shared
 * by all) vs the same entries written without dependencies, summed with MEMORY USAGE (SAMPLES 0,
 * exact) over the namespace's keys (SCAN `{<ns>:*`). Reports bytes per key-dependency edge.
 */
import type { Redis } from 'ioredis';
import Keyv from 'keyv';
import KeyvRedis from '@keyv/redis';
import { CleverStore } from '../lib/index.js';
import { REDIS_URL, adminClient, printTable, sampleValue, scanAll, unlinkMatching, type Cell } from './common.js';

const N = 10_000;
const TAGS = 3;
const TTL = 3_600_000;
const NS_DEPS = 'bench-mem-deps';
const NS_PLAIN = 'bench-mem-none'; // same length as NS_DEPS: same key sizes
const NS_KEYV_REDIS = 'bench-mem-kr';

/** Bytes per key kind (the two characters after the `{ns:b}` hash tag), via MEMORY USAGE ... SAMPLES 0. */
async function usage(admin: Redis, pattern: string, kindOf: (key: string) => string): Promise<Map<string, { keys: number; bytes: number }>> {
  const keys = await scanAll(admin, pattern);
  const out = new Map<string, { keys: number; bytes: number }>();
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const pipeline = admin.pipeline();
    for (const k of batch) pipeline.memory('USAGE', k, 'SAMPLES', 0);
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([error, bytes], j) => {
      if (error) throw error;
      const kind = kindOf(batch[j]!);
      const slot = out.get(kind) ?? { keys: 0, bytes: 0 };
      slot.keys++;
      slot.bytes += Number(bytes ?? 0);
      out.set(kind, slot);
    });
  }
  return out;
}

const total = (m: Map<string, { bytes: number }>) => [...m.values()].reduce((a, b) => a + b.bytes, 0);

export default async function run(): Promise<void> {
  const admin = adminClient('keyv-clever-bench-memory');
  const deps = new Keyv({ store: new CleverStore(REDIS_URL, { sweepInterval: 0 }), namespace: NS_DEPS });
  const plain = new Keyv({ store: new CleverStore(REDIS_URL, { sweepInterval: 0 }), namespace: NS_PLAIN });
  const reference = new Keyv(new KeyvRedis(REDIS_URL), { useKeyPrefix: false, namespace: NS_KEYV_REDIS });
  const patterns = [`{${NS_DEPS}:*`, `{${NS_PLAIN}:*`, `${NS_KEYV_REDIS}::*`];
  const cleanup = async () => { for (const p of patterns) await unlinkMatching(admin, p); };
  try {
    await cleanup();
    for (let i = 0; i < N; i += 500) {
      const ids = Array.from({ length: Math.min(500, N - i) }, (_, j) => i + j);
      const okDeps = await deps.setMany(ids.map((k) => ({ key: `post${k}`, value: sampleValue(k), ttl: { ttl: TTL, dependsOn: [`post:${k}`, `comments:${k}`, 'posts'] } })));
      // The same options-object form as with deps: Keyv then leaves `expires` out of the value alike.
      const okPlain = await plain.setMany(ids.map((k) => ({ key: `post${k}`, value: sampleValue(k), ttl: { ttl: TTL } })));
      await reference.setMany(ids.map((k) => ({ key: `post${k}`, value: sampleValue(k), ttl: TTL })));
      if ([...okDeps, ...okPlain].some((b) => !b)) throw new Error('a write failed');
    }

    // {ns:0}v:post1 -> 'v:'; sorted-set index keys split into the shared tag and the entries' own tags.
    const kind = (key: string) => {
      const rest = key.slice(key.indexOf('}') + 1);
      if (rest.startsWith('i:')) return rest === 'i:u:posts' ? 'i: (shared tag, 1 key)' : 'i: (own tags)';
      return rest.slice(0, 2);
    };
    const withDeps = await usage(admin, patterns[0]!, kind);
    const without = await usage(admin, patterns[1]!, kind);
    const kr = await usage(admin, patterns[2]!, () => 'value');
    const edges = N * TAGS;
    const extra = total(withDeps) - total(without);

    const rows: Cell[][] = [];
    for (const [k, v] of [...withDeps].sort()) rows.push([`with deps: ${k}`, v.keys, v.bytes, (v.bytes / N).toFixed(1), '']);
    rows.push(['with deps: total', [...withDeps.values()].reduce((a, b) => a + b.keys, 0), total(withDeps), (total(withDeps) / N).toFixed(1), '']);
    rows.push(['without deps: total (v:)', [...without.values()].reduce((a, b) => a + b.keys, 0), total(without), (total(without) / N).toFixed(1), '']);
    rows.push(['@keyv/redis, same entries *', [...kr.values()].reduce((a, b) => a + b.keys, 0), total(kr), (total(kr) / N).toFixed(1), '']);
    rows.push(['dependency overhead', '', extra, (extra / N).toFixed(1), (extra / edges).toFixed(1)]);
    printTable(`Memory, ${N.toLocaleString('en-US')} entries x ${TAGS} dependencies (MEMORY USAGE ... SAMPLES 0)`,
      ['keys', 'count', 'bytes', 'bytes/entry', 'bytes/edge'], rows,
      [`dependsOn [post:<k>, comments:<k>, 'posts']: ${edges.toLocaleString('en-US')} edges; ~250 B JSON values, ttl ${TTL / 1000} s on all.`,
        'dependency overhead = with deps - without deps; bytes/edge = overhead / edges. MEMORY USAGE counts each key with its',
        'dict entry, not its entry in the expires dict (only v: keys carry a ttl: the same on both sides).',
        'With deps, each value carries a header listing its tags; small tags share index pages (p:), big ones get a sorted set (i:).',
        '* reference: a numeric ttl, so Keyv adds "expires":<ms> to each value (with an options object it does not).']);
  } finally {
    await cleanup().catch(() => undefined);
    for (const k of [deps, plain, reference]) await k.disconnect().catch(() => undefined);
    admin.disconnect();
  }
}
