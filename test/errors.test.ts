import { expect } from 'chai';
import Keyv from 'keyv';
import {
  BadDependencyError, CleverStore, getOrSet, InvalidationsDroppedError, InvalidOptionError, KeyvCleverError, matching,
  StaleCaptureError, UnsafeEvictionError,
} from '../lib/index.js';
import { tableOf } from '../lib/sequelize/index.js';
import { internalsOf } from '../lib/store/internal.js';
import { eventually } from './support/eventually.js';
import { PrivateRedis } from './support/redis-server.js';

/** The error a call throws (synchronously or by rejecting), or a failed test. */
async function thrown(call: () => unknown): Promise<Error> {
  try {
    await call();
  } catch (error) {
    return error as Error;
  }
  return expect.fail('expected the call to throw');
}

describe('typed errors: each failure kind is its own class, with the fields a caller needs', () => {
  it('bad options are InvalidOptionError (a TypeError) naming the option and the value', async () => {
    for (const [options, option, value] of [
      [{ buckets: 0 }, 'buckets', 0],
      [{ url: 'http://x' }, 'url', 'http://x'],
      [{ onUnsafeEviction: 'maybe' }, 'onUnsafeEviction', 'maybe'],
      [{ waitForReplicas: 'yes' }, 'waitForReplicas', 'yes'],
      [{ defaultTtl: -1 }, 'defaultTtl', -1],
      [{ namespace: 7 }, 'namespace', 7],
      [{ cluster: [{ port: 1 }], clusterOptions: 'x' }, 'clusterOptions', 'x'],
    ] as const) {
      const error = await thrown(() => new CleverStore(options as never));
      expect(error, option).to.be.instanceOf(InvalidOptionError).and.instanceOf(TypeError);
      expect([(error as InvalidOptionError).option, (error as InvalidOptionError).value]).to.deep.equal([option, value]);
      expect(error.message).to.contain(option);
    }
    const keyv = new Keyv({ store: new CleverStore() });
    const error = await thrown(() => getOrSet(keyv, 'k', 'not a function' as never));
    expect(error).to.be.instanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).to.equal('loader');
    const notModel = await thrown(() => tableOf({ name: 'posts' }));
    expect(notModel).to.be.instanceOf(InvalidOptionError);
    expect((notModel as InvalidOptionError).option).to.equal('model');
    const ttl = await thrown(() => keyv.store.set('k', 'v', { ttl: -5 }));
    expect(ttl).to.be.instanceOf(InvalidOptionError);
    expect((ttl as InvalidOptionError).value).to.equal(-5);
  });

  it('bad dependencies are BadDependencyError (a TypeError) saying where and what', async () => {
    const store = new CleverStore({ sweepInterval: 0 });
    const empty = await thrown(() => store.set('k', 'v', { dependsOn: ['ok', ''] }));
    expect(empty).to.be.instanceOf(BadDependencyError).and.instanceOf(TypeError);
    expect([(empty as BadDependencyError).where, (empty as BadDependencyError).value]).to.deep.equal(['dependsOn[1]', '']);
    const nan = await thrown(() => matching('posts', { id: Number.NaN }));
    expect(nan).to.be.instanceOf(BadDependencyError);
    expect(Number.isNaN((nan as BadDependencyError).value)).to.equal(true);
    const unknown = await thrown(() => store.invalidate({ not: 'a dependency' } as never));
    expect(unknown).to.be.instanceOf(BadDependencyError);
    expect((unknown as BadDependencyError).where).to.equal('invalidate() argument 0');
    expect(await store.get('k')).to.equal(undefined); // nothing was written
  });

  describe('against a redis-server the test owns', function () {
    this.timeout(30_000);
    let server: PrivateRedis | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('an unsafe eviction policy is an UnsafeEvictionError naming the policy and the safe ones', async () => {
      server = await PrivateRedis.start(['--maxmemory-policy', 'allkeys-lru']);
      const store = new CleverStore(server.url, { sweepInterval: 0 });
      try {
        const error = await new Promise<Error>((resolve) => store.once('error', resolve));
        expect(error).to.be.instanceOf(UnsafeEvictionError).and.instanceOf(KeyvCleverError);
        expect((error as UnsafeEvictionError).policy).to.equal('allkeys-lru');
        expect((error as UnsafeEvictionError).safe).to.include('noeviction');
      } finally {
        await store.disconnect();
      }
    });

    it("a failed invalidation is one 'pending' event, getOrSet misses meanwhile say nothing more, 'drained' ends it; a disconnect drops what waits with InvalidationsDroppedError", async () => {
      server = await PrivateRedis.start();
      const store = new CleverStore(server.url, { sweepInterval: 0, commandTimeout: 200, namespace: 'pending' });
      const errors: Error[] = [];
      const events: string[] = [];
      store.on('error', (e) => errors.push(e));
      store.on('pending', ({ pending }) => events.push(`pending ${pending}`));
      store.on('drained', () => events.push('drained'));
      const keyv = new Keyv({ store, namespace: 'pending' });
      try {
        await keyv.set('k', 'v', { dependsOn: ['t'] });
        server.freeze();
        await store.invalidate('t').then(() => expect.fail('invalidate should reject'), () => undefined);
        await store.invalidate('u').then(() => expect.fail('invalidate should reject'), () => undefined);
        expect(events).to.deep.equal(['pending 1']);
        const reported = errors.length;
        for (let i = 0; i < 3; i++) expect(await getOrSet(keyv, 'k', () => 'fresh', { dependsOn: ['t'] })).to.equal('fresh');
        expect(errors.slice(reported).map((e) => e.message)).to.deep.equal([]);
        server.thaw();
        await eventually(async () => {
          await store.flushInvalidations();
          return events.includes('drained');
        });
        expect(events).to.deep.equal(['pending 1', 'drained']);
        expect(await getOrSet(keyv, 'k', () => 'cached', { dependsOn: ['t'] })).to.equal('cached');
        expect(await keyv.get('k')).to.equal('cached');

        server.freeze();
        await store.invalidate('t').catch(() => undefined);
        expect(events).to.deep.equal(['pending 1', 'drained', 'pending 1']);
      } finally {
        await store.disconnect();
        server.thaw();
      }
      const dropped = errors.filter((e) => e instanceof InvalidationsDroppedError) as InvalidationsDroppedError[];
      expect(dropped.map((e) => e.count)).to.deep.equal([1]);
    });

    it('the capture path refuses with StaleCaptureError while invalidations of the namespace wait', async () => {
      server = await PrivateRedis.start();
      const store = new CleverStore(server.url, { sweepInterval: 0, commandTimeout: 200, namespace: 'stale' });
      store.on('error', () => undefined);
      try {
        server.freeze();
        await store.invalidate('t').catch(() => undefined);
        const error = await thrown(() => internalsOf(store)!.capture('k', { tags: [], schemes: [] }));
        expect(error).to.be.instanceOf(StaleCaptureError);
        expect([(error as StaleCaptureError).namespace, (error as StaleCaptureError).pending]).to.deep.equal(['stale', 1]);
      } finally {
        server.thaw();
        await store.disconnect();
      }
    });
  });
});
