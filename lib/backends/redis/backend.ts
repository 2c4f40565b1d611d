import type { CompiledDependencies, Invalidation } from '../../dependencies.js';
import type { BucketCountMismatchError } from '../../errors.js';
import type { Backend, Capture, WriteEntry } from '../backend.js';
import { Batcher } from './batching.js';
import { BucketCounts } from './bucket-counts.js';
import { invalidate, type InvalidationOptions } from './invalidation.js';
import { Keyspace } from './keyspace.js';
import { Layout, bucketOf, type RedisClient } from './layout.js';
import { RowFields } from './row-fields.js';
import { captureScript, defineScripts, deleteScript, entriesScript, runScript, unlockScript } from './scripts.js';

export interface RedisBackendOptions extends InvalidationOptions {
  /** number of buckets keys are spread over (1 on a single Redis), unless Redis records another */
  buckets: number;
  /** SCAN COUNT hint for clear, iterator and sweep */
  scanCount: number;
  /** told when a namespace turns out to be recorded with another bucket count, which the store then uses */
  onBucketMismatch?: (error: BucketCountMismatchError) => void;
}

/**
 * The Backend contract on Redis or Redis Cluster, delegating to its parts: Layout (where keys
 * live), BucketCounts (the bucket count each namespace is placed with), Batcher (same-tick
 * batching of single gets and sets), invalidation, Keyspace (SCAN-based work) and the scripts.
 * Every call but a single get or set first sends what is pending (Batcher.flush), so commands
 * reach Redis in the order they were issued.
 */
export class RedisBackend implements Backend {
  readonly kind = 'redis' as const;
  private readonly layout: Layout;
  private readonly counts: BucketCounts;
  private readonly batcher: Batcher;
  private readonly keyspace: Keyspace;
  /** the fields the schemes in use name, per table: all a changed row needs to carry */
  private readonly rowFields = new RowFields((ns, table) => this.schemesOf(ns, table));

  constructor(readonly client: RedisClient, private readonly options: RedisBackendOptions, private readonly ownsClient: boolean) {
    defineScripts(client);
    this.layout = new Layout(client, (ns) => this.counts.count(ns));
    this.counts = new BucketCounts(this.layout, options.buckets, {
      flush: () => this.batcher.flush(),
      read: (ns, keys) => this.batcher.read(ns, keys),
    }, options.onBucketMismatch);
    this.batcher = new Batcher(client, this.layout, this.counts);
    this.keyspace = new Keyspace(this.layout, options.scanCount, (ns, keys) => this.getMany(ns, keys));
  }

  /** A key's value key as ioredis is given it (without the client's keyPrefix). */
  valueKey(ns: string, key: string): string {
    return `${this.layout.prefix(ns, key)}v:${key}`;
  }

  get(ns: string, key: string): Promise<string | undefined> {
    this.counts.readRecorded(ns);
    return this.batcher.get(ns, key);
  }

  /** Like a tick's gets, sent at once: one read per Redis process. */
  getMany(ns: string, keys: string[]): Promise<Array<string | undefined>> {
    this.batcher.flush();
    this.counts.readRecorded(ns);
    return this.batcher.read(ns, keys.map((key) => {
      const p = this.layout.prefix(ns, key);
      return [p, `${p}v:${key}`] as const;
    }));
  }

  async hasMany(ns: string, keys: string[]): Promise<boolean[]> {
    this.batcher.flush();
    this.counts.readRecorded(ns);
    // Sent back to back without waiting (pipelined on the wire), and valid across cluster slots.
    return Promise.all(keys.map(async (k) => (await this.client.exists(`${this.layout.prefix(ns, k)}v:${k}`)) === 1));
  }

  set(ns: string, entries: WriteEntry[]): Promise<boolean[]> {
    return this.batcher.set(ns, entries);
  }

  async delete(ns: string, keys: string[]): Promise<number> {
    this.batcher.flush();
    const unique = [...new Set(keys)];
    const before = this.counts.count(ns);
    const deleteIn = async (ks: string[]) => Promise.all([...this.layout.byBucket(ns, ks, (k) => k)]
      .map(([p, group]) => runScript(this.client, deleteScript, p, group.map(([, k]) => k))));
    const replies = await deleteIn(unique);
    let removed = replies.reduce((sum, reply) => sum + reply.removed, 0);
    // A bucket recorded with another count: the keys live where that count places them.
    if (replies.some(({ recorded }) => recorded > 0 && recorded !== before)) {
      await this.counts.register(ns);
      const count = this.counts.count(ns);
      const moved = unique.filter((k) => bucketOf(k, count) !== bucketOf(k, before));
      if (moved.length > 0) removed += (await deleteIn(moved)).reduce((sum, reply) => sum + reply.removed, 0);
    }
    return removed;
  }

  async invalidate(ns: string, request: Invalidation): Promise<{ removed: number; tags: string[] }> {
    this.batcher.flush();
    return invalidate(this.layout, this.counts, this.options, ns, request, this.rowFields);
  }

  async capture(ns: string, key: string, deps: CompiledDependencies, lock?: { token: string; ttl: number }, skipValue = false): Promise<Capture> {
    this.batcher.flush();
    this.counts.readRecorded(ns);
    return runScript(this.client, captureScript, this.layout.prefix(ns, key), { key, lock, skipValue, schemes: deps.schemes, tags: deps.tags });
  }

  async unlock(ns: string, key: string, token: string): Promise<void> {
    this.batcher.flush();
    await runScript(this.client, unlockScript, this.layout.prefix(ns, key), { key, token });
  }

  async entriesFor(ns: string, tags: string[]): Promise<string[]> {
    this.batcher.flush();
    if (tags.length === 0) return [];
    // Every bucket the namespace is recorded with, not only those of the configured count.
    await this.counts.readRecorded(ns);
    const found = await Promise.all(this.layout.bucketPrefixes(ns).map((p) => runScript(this.client, entriesScript, p, tags)));
    return [...new Set(found.flat())];
  }

  async schemesOf(ns: string, table: string): Promise<string[]> {
    this.batcher.flush();
    await this.counts.readRecorded(ns);
    // Each bucket registers the schemes its entries use.
    const found = await Promise.all(this.layout.bucketPrefixes(ns).map((p) => this.client.smembers(`${p}s:${table}`)));
    return [...new Set(found.flat())];
  }

  async clear(ns: string): Promise<void> {
    this.batcher.flush();
    this.counts.unverify(ns);
    await this.keyspace.clear(ns);
  }

  async *iterate(ns: string): AsyncGenerator<[string, string]> {
    this.batcher.flush();
    yield* this.keyspace.iterate(ns);
  }

  async sweep(ns: string): Promise<number> {
    this.batcher.flush();
    return this.keyspace.sweep(ns);
  }

  /** The eviction policy of every master (they should agree). */
  evictionPolicies(): Promise<string[]> {
    return this.keyspace.evictionPolicies();
  }

  async close(): Promise<void> {
    this.batcher.flush();
    if (this.ownsClient) await this.client.quit().catch(() => this.client.disconnect());
  }
}
