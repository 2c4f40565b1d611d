/**
 * The wire alone, the cluster bench's reference (not a benchmark itself): ioredis with no Keyv
 * and no store, keys under one hash tag per master, each tick's gets for one Redis process sent
 * as one MGET and its sets as one pipeline of `SET … PX`. What spreading the same gets and sets
 * over the masters costs any client on this machine; the store's own extra is measured against it.
 */
import { Cluster, Redis } from 'ioredis';
import { hashSlot } from '../lib/backends/redis/index.js';
import { sampleValue, type Op } from './common.js';

type Nodes = Array<{ host: string; port: number }>;

const WRITE_BATCH = 500;

/**
 * An op that queues its key under tag `i % tags.length` and resolves once the tick's keys of
 * that tag went out together, in one `send` (one command or pipeline per tag and tick).
 */
function perTick(tags: string[], keyOf: (tag: string, i: number) => string, send: (keys: string[]) => Promise<unknown>): Op {
  let batches = tags.map(() => ({ keys: [] as string[], done: [] as Array<() => void> }));
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const sending = batches;
    batches = tags.map(() => ({ keys: [], done: [] }));
    for (const b of sending) if (b.keys.length > 0) void send(b.keys).then(() => { for (const d of b.done) d(); });
  };
  return (i) => new Promise<void>((resolve) => {
    if (!scheduled) {
      scheduled = true;
      process.nextTick(flush);
    }
    const t = i % tags.length;
    batches[t]!.keys.push(keyOf(tags[t]!, i));
    batches[t]!.done.push(resolve);
  });
}

/** One hash tag per master: every master holds the keys of one. */
function tagPerMaster(cluster: Cluster, base: string): string[] {
  const masters = new Set(cluster.slots.map((slot) => slot?.[0]).filter((owner) => owner !== undefined)).size;
  const tags: string[] = [];
  const owners = new Set<string>();
  for (let i = 0; tags.length < masters; i++) {
    const owner = cluster.slots[hashSlot(`{${base}-${i}}`)]![0]!;
    if (owners.has(owner)) continue;
    owners.add(owner);
    tags.push(`{${base}-${i}}`);
  }
  return tags;
}

/** The wire alone on a standalone Redis and on a cluster: a get and a set op for each. */
export class Wire {
  private constructor(
    private readonly single: Redis,
    private readonly nodes: Cluster,
    /** hash tags: one on the standalone Redis, one per master on the cluster */
    private readonly tags: { standalone: string[]; cluster: string[] },
    private readonly keys: number,
    private readonly ttl: number,
  ) {}

  /** Connects and writes `keys` values under each tag for the gets to hit. */
  static async open(standaloneUrl: string, cluster: Nodes, base: string, keys: number, ttl: number, connectionName: string): Promise<Wire> {
    const single = new Redis(standaloneUrl, { connectionName });
    const nodes = new Cluster(cluster, { redisOptions: { connectionName } });
    await new Promise((resolve, reject) => nodes.once('ready', resolve).once('error', reject));
    const wire = new Wire(single, nodes, { standalone: [`{${base}}`], cluster: tagPerMaster(nodes, base) }, keys, ttl);
    const value = JSON.stringify({ value: sampleValue(0), expires: null });
    for (const [client, tags] of wire.sides()) {
      for (const t of tags) {
        for (let i = 0; i < keys; i += WRITE_BATCH) {
          await client.mset(Array.from({ length: Math.min(WRITE_BATCH, keys - i) }, (_, j) => [`${t}g${i + j}`, value]).flat());
        }
      }
    }
    return wire;
  }

  /** How many masters the cluster's keys spread over. */
  get masters(): number {
    return this.tags.cluster.length;
  }

  private sides(): Array<[Redis | Cluster, string[]]> {
    return [[this.single, this.tags.standalone], [this.nodes, this.tags.cluster]];
  }

  private side(where: 'standalone' | 'cluster'): [Redis | Cluster, string[]] {
    return where === 'standalone' ? [this.single, this.tags.standalone] : [this.nodes, this.tags.cluster];
  }

  /** Gets (hits), each tick's for one Redis process as one MGET. */
  get(where: 'standalone' | 'cluster'): Op {
    const [client, tags] = this.side(where);
    return perTick(tags, (t, i) => `${t}g${(i * 7919) % this.keys}`, (keys) => client.mget(keys));
  }

  /** Sets with a ttl, each tick's for one Redis process as one pipeline (one socket write). */
  set(where: 'standalone' | 'cluster'): Op {
    const [client, tags] = this.side(where);
    const value = JSON.stringify({ value: sampleValue(0), expires: null });
    return perTick(tags, (t, i) => `${t}s${i % this.keys}`, (keys) => {
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.set(key, value, 'PX', this.ttl);
      return pipeline.exec();
    });
  }

  /** Removes the keys written and disconnects. */
  async close(): Promise<void> {
    try {
      for (const [client, tags] of this.sides()) {
        for (const t of tags) {
          for (const kind of ['g', 's']) {
            for (let i = 0; i < this.keys; i += WRITE_BATCH) {
              await client.unlink(Array.from({ length: Math.min(WRITE_BATCH, this.keys - i) }, (_, j) => `${t}${kind}${i + j}`));
            }
          }
        }
      }
    } finally {
      this.single.disconnect();
      this.nodes.disconnect();
    }
  }
}
