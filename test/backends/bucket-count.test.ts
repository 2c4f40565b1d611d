import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import Keyv from 'keyv';
import { CleverStore, getOrSet, type CleverStoreOptions } from '../../lib/index.js';
import { bucketOf, escapeNamespace } from '../../lib/backends/redis/index.js';
import { REDIS_URL, clusterNodes, uniqueNamespace } from '../support/backends.js';

/**
 * Every store sharing a namespace must place keys with the same bucket count. Redis records the
 * count of the first writer; a store configured otherwise adopts it and reports it, and nothing it
 * does in the meantime leaves a stale entry behind.
 */
const targets: Array<{ name: string; store: (options: CleverStoreOptions) => CleverStore; admin: () => Redis | Cluster; counts: [number, number] }> = [
  { name: 'redis', store: (options) => new CleverStore(REDIS_URL, { sweepInterval: 0, ...options }), admin: () => new Redis(REDIS_URL), counts: [16, 4] },
  { name: 'cluster', store: (options) => new CleverStore({ cluster: clusterNodes(), sweepInterval: 0, ...options }), admin: () => new Cluster(clusterNodes()), counts: [16, 3] },
];

/** Keys that the two counts place in different buckets (bucket 0 excluded: it is the same prefix). */
function keysMoving(n: number, a: number, b: number, label: string): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < n; i++) {
    const k = `${label}${i}`;
    if (bucketOf(k, a) !== bucketOf(k, b) && bucketOf(k, a) !== 0 && bucketOf(k, b) !== 0) keys.push(k);
  }
  return keys;
}

for (const target of targets) {
  describe(`bucket count recorded per namespace (${target.name})`, function () {
    this.timeout(30_000);
    const stores: CleverStore[] = [];
    const errors = new Map<CleverStore, Error[]>();
    const open = (namespace: string, buckets: number): CleverStore => {
      const store = target.store({ namespace, buckets });
      const list: Error[] = [];
      errors.set(store, list);
      store.on('error', (error) => list.push(error));
      stores.push(store);
      return store;
    };
    /** Writes n entries depending on 'feed' through `store`; returns their keys. */
    const feed = async (store: CleverStore, n: number): Promise<string[]> => {
      const keys = Array.from({ length: n }, (_, i) => `e${i}`);
      expect(await store.setMany(keys.map((key) => ({ key, value: 'v', ttl: { dependsOn: ['feed'] } })))).to.deep.equal(keys.map(() => true));
      return keys;
    };
    afterEach(async () => {
      if (stores[0]) await stores[0].clear();
      await Promise.all(stores.splice(0).map((s) => s.disconnect()));
    });

    for (const [first, second] of [target.counts, [target.counts[1], target.counts[0]]] as Array<[number, number]>) {
      it(`a store with ${second} buckets adopts the ${first} recorded by the first writer, says so, and shares its entries`, async () => {
        const ns = uniqueNamespace('buckets');
        const a = open(ns, first);
        const b = open(ns, second);
        const keys = keysMoving(30, first, second, 'k');
        for (const k of keys) expect(await a.set(k, `a:${k}`, { dependsOn: ['posts', `post:${k}`] })).to.equal(true);
        expect(await b.set('from-b', 'b', { dependsOn: ['posts'] })).to.equal(true);
        expect(errors.get(b)!.map((e) => e.message).join('\n')).to.match(new RegExp(`over ${first} bucket\\(s\\), but this store is configured with buckets: ${second}`));
        expect(errors.get(a)).to.deep.equal([]);
        for (const k of keys) expect(await b.get(k)).to.equal(`a:${k}`);
        expect(await a.get('from-b')).to.equal('b');
        expect(await b.invalidate(`post:${keys[0]}`)).to.equal(1);
        expect(await a.get(keys[0]!)).to.equal(undefined);
        expect(await b.invalidate('posts')).to.equal(keys.length);
        for (const k of [...keys, 'from-b']) expect(await a.get(k)).to.equal(undefined);
      });
    }

    it('an invalidation by a store with fewer buckets that never wrote reaches every recorded bucket', async () => {
      const [many, few] = target.counts;
      const ns = uniqueNamespace('buckets-inv');
      const a = open(ns, many);
      const keys = await feed(a, 200);
      expect(new Set(keys.map((k) => bucketOf(k, many))).size).to.equal(many);
      const b = open(ns, few);
      expect(await b.invalidate('feed')).to.equal(keys.length);
      expect(await a.getMany(keys)).to.deep.equal(keys.map(() => undefined));
      expect(errors.get(b)!.length).to.equal(1);
      // b now places keys like a: its own writes are invalidated by a.
      expect(await b.set('later', 'v', { dependsOn: ['feed'] })).to.equal(true);
      expect(await a.invalidate('feed')).to.equal(1);
      expect(await b.get('later')).to.equal(undefined);
    });

    it('entriesFor by a store configured otherwise that never used the namespace lists every recorded bucket\'s entries', async () => {
      const [many, few] = target.counts;
      const ns = uniqueNamespace('buckets-list');
      const a = open(ns, many);
      const keys = await feed(a, 200);
      const b = open(ns, few);
      expect((await b.entriesFor('feed')).sort()).to.deep.equal([...keys].sort());
      expect(errors.get(b)!.length).to.equal(1);
    });

    it('a store that only reads asks for the recorded count at its first read, and finds the writers\' keys from then on', async () => {
      const [many, few] = target.counts;
      const ns = uniqueNamespace('buckets-read');
      const a = open(ns, many);
      const keys = keysMoving(20, many, few, 'r');
      for (const k of keys) expect(await a.set(k, `a:${k}`)).to.equal(true);
      const reader = open(ns, few);
      await reader.get('anything'); // placed with its configured count: may miss
      for (let i = 0; i < 100 && errors.get(reader)!.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(errors.get(reader)!.map((e) => e.message).join('\n')).to.match(new RegExp(`over ${many} bucket\\(s\\)`));
      expect(await reader.getMany(keys)).to.deep.equal(keys.map((k) => `a:${k}`));
      for (const k of keys) expect(await reader.get(k)).to.equal(`a:${k}`);
      expect(await reader.has(keys[0]!)).to.equal(true);
    });

    it('a delete, a plain write and a guarded fill by a store configured otherwise reach the recorded keys', async () => {
      const [many, few] = target.counts;
      const ns = uniqueNamespace('buckets-write');
      const a = open(ns, many);
      const [k1, k2, k3] = keysMoving(3, many, few, 'w');
      for (const k of [k1!, k2!, k3!]) expect(await a.set(k, 'old', { dependsOn: [`row:${k}`] })).to.equal(true);
      // First thing each fresh store does: a delete, a plain overwrite, a read-through fill.
      expect(await open(ns, few).delete(k1!)).to.equal(true);
      expect(await a.get(k1!)).to.equal(undefined);
      expect(await open(ns, few).set(k2!, 'new')).to.equal(true);
      expect(await a.get(k2!)).to.equal('new');
      expect(await a.delete(k3!)).to.equal(true);
      const filler = open(ns, few);
      const keyv = new Keyv({ store: filler, namespace: ns, useKeyPrefix: false });
      expect(await getOrSet(keyv, k3!, () => 'filled', { dependsOn: [`row:${k3}`] })).to.equal('filled');
      // Cached or not (a fill placed with the old count is dropped), never stale after invalidation.
      await a.invalidate(`row:${k3}`);
      expect(await a.get(k3!)).to.equal(undefined);
      expect(await keyv.get(k3!)).to.equal(undefined);
      expect(await getOrSet(keyv, k3!, () => 'refilled', { dependsOn: [`row:${k3}`] })).to.equal('refilled');
      expect(await keyv.get(k3!)).to.equal('refilled');
      expect(await a.get(k3!)).to.be.a('string');
    });

    it('a record lost alone with bucket 0 is recorded again from the other buckets\' marks, not by a store configured otherwise', async () => {
      const [many, few] = target.counts;
      const ns = uniqueNamespace('buckets-lost');
      const a = open(ns, many);
      const keys = await feed(a, 200);
      // Bucket 0's node loses its data (no persistence, a failover without a synced replica).
      const record = `{${escapeNamespace(ns)}:0}m:`;
      const admin = target.admin();
      try {
        const lost = keys.filter((k) => bucketOf(k, many) === 0).map((k) => `{${escapeNamespace(ns)}:0}v:${k}`);
        for (const key of [record, ...lost]) await admin.del(key);
        // A fresh store configured with fewer buckets writes first.
        const b = open(ns, few);
        expect(await b.set('later', 'v', { dependsOn: ['feed'] })).to.equal(true);
        expect(await admin.get(record)).to.equal(String(many));
        expect(errors.get(b)!.map((e) => e.message).join('\n')).to.match(new RegExp(`over ${many} bucket\\(s\\)`));
        // Its invalidation reaches every entry the other buckets hold, and its own.
        const left = keys.filter((k) => bucketOf(k, many) !== 0);
        expect(await b.invalidate('feed')).to.equal(left.length + 1);
        expect(await a.getMany(keys)).to.deep.equal(keys.map(() => undefined));
        expect(errors.get(a)).to.deep.equal([]);
      } finally {
        admin.disconnect();
      }
    });

    if (target.name === 'cluster') {
      it('a store with a single bucket finds the count in the marks of buckets it does not use when bucket 0 lost its record', async () => {
        const [many] = target.counts;
        const ns = uniqueNamespace('buckets-lost-one');
        const a = open(ns, many);
        const keys = await feed(a, 100);
        const admin = target.admin();
        try {
          await admin.del(`{${escapeNamespace(ns)}:0}m:`);
          const b = open(ns, 1);
          expect(await b.set('later', 'v', { dependsOn: ['feed'] })).to.equal(true);
          expect(await admin.get(`{${escapeNamespace(ns)}:0}m:`)).to.equal(String(many));
          expect(await b.invalidate('feed')).to.equal(keys.length + 1);
          expect(await a.getMany(keys)).to.deep.equal(keys.map(() => undefined));
        } finally {
          admin.disconnect();
        }
      });
    }

    it('after clear() the next writer records its count again, and the others follow it', async () => {
      const [many, few] = target.counts;
      const ns = uniqueNamespace('buckets-clear');
      const a = open(ns, few);
      const b = open(ns, many);
      expect(await a.set('x', '1', { dependsOn: ['t'] })).to.equal(true);
      await a.clear();
      // Recorded by b now: a adopts it at its next write.
      expect(await b.set('y', '2', { dependsOn: ['t'] })).to.equal(true);
      expect(errors.get(b)).to.deep.equal([]);
      const [moving] = keysMoving(1, many, few, 'z');
      expect(await a.set(moving!, '3', { dependsOn: ['t'] })).to.equal(true);
      expect(errors.get(a)!.map((e) => e.message).join('\n')).to.match(new RegExp(`over ${many} bucket\\(s\\)`));
      expect(await b.get(moving!)).to.equal('3');
      expect(await b.invalidate('t')).to.equal(2);
      expect(await a.get('y')).to.equal(undefined);
    });
  });
}
