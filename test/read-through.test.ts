import { internalsOf } from '../lib/store/internal.js';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import Keyv from 'keyv';
import { CleverStore, getOrSet, matching } from '../lib/index.js';
import { escapeNamespace } from '../lib/backends/redis/index.js';
import { backends, keyvFor, REDIS_URL, sleep, uniqueNamespace } from './support/backends.js';
import { eventually } from './support/eventually.js';
import { gatedLoader } from './support/gated-loader.js';

for (const backend of backends) {
  describe(`getOrSet (${backend.name})`, () => {
    let store: CleverStore;
    let keyv: Keyv;
    beforeEach(() => {
      store = backend.store();
      keyv = keyvFor(store);
    });
    afterEach(async () => {
      await keyv.clear();
      await store.disconnect();
    });

    it('returns the cached value on a hit without calling the loader', async () => {
      await keyv.set('k', { v: 1 });
      let calls = 0;
      expect(await getOrSet(keyv, 'k', () => { calls++; return { v: 2 }; })).to.deep.equal({ v: 1 });
      expect(calls).to.equal(0);
    });

    it('on a miss runs the loader once, stores the value with its dependencies and ttl', async () => {
      let calls = 0;
      const load = () => { calls++; return [calls]; };
      expect(await getOrSet(keyv, 'k', load, { ttl: 60_000, dependsOn: ['posts'] })).to.deep.equal([1]);
      expect(await getOrSet(keyv, 'k', load, { dependsOn: ['posts'] })).to.deep.equal([1]);
      expect(calls).to.equal(1);
      expect(await keyv.get('k')).to.deep.equal([1]);
      expect(await store.invalidate('posts')).to.equal(1);
      expect(await getOrSet(keyv, 'k', load, { dependsOn: ['posts'] })).to.deep.equal([2]);
      await getOrSet(keyv, 'short', load, { ttl: 30 });
      await eventually(async () => (await keyv.get('short')) === undefined, { what: 'the 30 ms entry expiring' });
    });

    it('propagates loader errors, stores nothing and leaves no lock behind', async () => {
      const failing = () => Promise.reject(new Error('database down'));
      await getOrSet(keyv, 'k', failing, { dependsOn: ['t'] }).then(() => expect.fail('should reject'), (e: Error) => expect(e.message).to.equal('database down'));
      expect(await keyv.has('k')).to.equal(false);
      const started = Date.now();
      expect(await getOrSet(keyv, 'k', () => 'ok', { lock: { wait: 5000 } })).to.equal('ok');
      expect(Date.now() - started).to.be.below(1000); // no lock left to wait for
    });

    it('refuses a write-back whose dependency was invalidated while it loaded; naive read-then-set keeps stale data', async () => {
      let row = 'old';
      // The naive pattern: read, (writer commits and invalidates), then store what was read.
      const naive = gatedLoader(() => row);
      const naiveDone = (async () => {
        if ((await keyv.get('naive')) === undefined) await keyv.set('naive', await naive.load(), { dependsOn: ['row'] });
      })();
      await naive.atGate;
      row = 'new';
      await store.invalidate('row');
      naive.release();
      await naiveDone;
      expect(await keyv.get('naive')).to.equal('old'); // stale until its ttl: the race is real

      row = 'old';
      const safe = gatedLoader(() => row);
      const result = getOrSet(keyv, 'safe', safe.load, { dependsOn: ['row'] });
      await safe.atGate;
      row = 'new';
      await store.invalidate('row');
      safe.release();
      expect(await result).to.equal('old'); // the caller still gets what it loaded
      expect(await keyv.get('safe')).to.equal(undefined); // but it was not stored
      expect(store.stats.refusedStale).to.equal(1);
      expect(await getOrSet(keyv, 'safe', () => row, { dependsOn: ['row'] })).to.equal('new');
    });

    it('sees a row change during the load even when no entry used that scheme before', async () => {
      const paused = gatedLoader(() => 'author 7 before');
      const result = getOrSet(keyv, 'posts7', paused.load, { dependsOn: [matching('posts', { authorId: 7 })] });
      await paused.atGate;
      await internalsOf(store)!.invalidateRequest({ tags: [], rows: [{ table: 'posts', values: { authorId: 'n7', id: 'n1' } }] });
      paused.release();
      await result;
      expect(await keyv.get('posts7')).to.equal(undefined);
    });

    it('an invalidation of an unrelated dependency does not refuse the write', async () => {
      const paused = gatedLoader(() => 'v');
      const result = getOrSet(keyv, 'k', paused.load, { dependsOn: ['mine', matching('posts', { authorId: 7 })] });
      await paused.atGate;
      await store.invalidate('other');
      await store.invalidate(matching('posts', { authorId: 8 }));
      paused.release();
      await result;
      expect(await keyv.get('k')).to.equal('v');
    });

    it('coalesces concurrent misses of one key in one process into one loader call', async () => {
      let calls = 0;
      const load = async () => { calls++; await sleep(30); return 'v'; };
      const results = await Promise.all(Array.from({ length: 50 }, () => getOrSet(keyv, 'k', load, { dependsOn: ['t'] })));
      expect(results.every((r) => r === 'v')).to.equal(true);
      expect(calls).to.equal(1);
    });

    it('counts hits, misses, sets and invalidations', async () => {
      await getOrSet(keyv, 'a', () => 1, { dependsOn: ['s'] });
      await getOrSet(keyv, 'a', () => 1, { dependsOn: ['s'] });
      await store.invalidate('s');
      expect(store.stats).to.include({ hits: 1, sets: 1, invalidations: 1, invalidated: 1 });
      expect(store.stats.misses).to.be.at.least(1);
    });

    it('rejects bad arguments with a TypeError', async () => {
      const errors: Array<[() => Promise<unknown>, RegExp]> = [
        [() => getOrSet(new Keyv(), 'k', () => 1), /must use a CleverStore/],
        [() => getOrSet(keyv, 42 as never, () => 1), /key must be a string, got 42/],
        [() => getOrSet(keyv, 'k', 'nope' as never), /loader must be a function/],
        [() => getOrSet(keyv, 'k', () => 1, { dependsOn: [null as never] }), /getOrSet\(\) dependsOn\[0\] is null/],
        [() => getOrSet(keyv, 'k', () => 1, { lock: { wait: -1 } }), /lock.wait must be a positive integer/],
      ];
      for (const [call, message] of errors) {
        await call().then(() => expect.fail(`expected ${message}`), (e: Error) => {
          expect(e).to.be.instanceOf(TypeError);
          expect(e.message).to.match(message);
        });
      }
    });
  });
}

describe('getOrSet across processes (two Redis connections)', function () {
  this.timeout(30_000);
  const stores: CleverStore[] = [];
  let ns: string;
  const open = () => {
    const store = new CleverStore(REDIS_URL, { sweepInterval: 0 });
    stores.push(store);
    return new Keyv({ store, namespace: ns });
  };
  beforeEach(() => { ns = uniqueNamespace('stampede'); });
  afterEach(async () => {
    await stores[0]?.clear();
    await Promise.all(stores.splice(0).map((s) => s.disconnect()));
  });

  it('100 concurrent misses across two stores run the loader at most twice', async () => {
    const [a, b] = [open(), open()];
    let calls = 0;
    const load = async () => { calls++; await sleep(100); return 'expensive'; };
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => getOrSet(i % 2 ? a : b, 'hot', load, { dependsOn: ['t'] })));
    expect(results.every((r) => r === 'expensive')).to.equal(true);
    expect(calls).to.be.at.most(2);
    expect(calls).to.be.at.least(1);
    expect((a.store as CleverStore).stats.lockWaits + (b.store as CleverStore).stats.lockWaits).to.be.at.least(1);
  });

  it('a crashed holder\'s lock expires, and waiters load anyway after lock.wait', async () => {
    const keyv = open();
    const admin = new Redis(REDIS_URL);
    try {
      const lockKey = `{${escapeNamespace(ns)}:0}l:k`;
      await admin.set(lockKey, 'crashed-holder', 'PX', 150);
      const { stats } = keyv.store as CleverStore;
      expect(await getOrSet(keyv, 'k', () => 'v1', { lock: { wait: 400 } })).to.equal('v1');
      expect(stats.lockWaits).to.equal(1); // waited for the holder's value, then loaded
      await eventually(async () => (await admin.exists(lockKey)) === 0, { what: "the crashed holder's lock expiring" });
      await keyv.delete('k');
      expect(await getOrSet(keyv, 'k', () => 'v2', { lock: { wait: 2000 } })).to.equal('v2');
      expect(stats.lockWaits).to.equal(1); // took the free lock: no wait
      expect(await admin.exists(lockKey)).to.equal(0); // released with the write
    } finally {
      await admin.quit();
    }
  });
});
