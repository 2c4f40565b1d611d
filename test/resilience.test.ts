import { expect } from 'chai';
import { Redis } from 'ioredis';
import Keyv from 'keyv';
import { CleverStore, getOrSet, matching, RetryQueueOverflowError } from '../lib/index.js';
import { sleep } from './support/backends.js';
import { eventually } from './support/eventually.js';
import { PrivateRedis } from './support/redis-server.js';

describe('Redis faults (a redis-server the test owns)', function () {
  this.timeout(60_000);
  let server: PrivateRedis;
  let store: CleverStore;
  let keyv: Keyv;
  let errors: Error[];

  beforeEach(async () => {
    server = await PrivateRedis.start(['--enable-debug-command', 'yes']);
    store = new CleverStore(server.url, { sweepInterval: 0, commandTimeout: 300 });
    errors = [];
    store.on('error', (e) => errors.push(e));
    keyv = new Keyv({ store, namespace: 'faults' });
  });
  afterEach(async () => {
    server.thaw();
    await store.disconnect();
    await server.stop();
  });

  it('a hung Redis: reads miss, writes are skipped, both promptly and with an error; the failed invalidation runs when it answers', async () => {
    await keyv.set('stale-soon', 'old', { dependsOn: ['row'] });
    await keyv.set('unrelated', 'kept', { dependsOn: ['other'] });
    server.freeze();

    let started = Date.now();
    expect(await keyv.get('unrelated')).to.equal(undefined);
    expect(await keyv.set('new', 'v')).to.equal(false);
    expect(Date.now() - started).to.be.below(1500); // two calls, each bounded by commandTimeout (300 ms)
    expect(errors.length).to.be.at.least(2);

    started = Date.now();
    await store.invalidate('row').then(() => expect.fail('invalidate should reject while Redis hangs'), () => undefined);
    expect(Date.now() - started).to.be.below(1000);
    expect(store.pendingInvalidations).to.equal(1);

    server.thaw();
    await eventually(async () => {
      await store.flushInvalidations();
      return store.pendingInvalidations === 0;
    });
    expect(await keyv.get('stale-soon')).to.equal(undefined); // the change made during the outage reached Redis
    expect(await keyv.get('unrelated')).to.equal('kept');
  });

  it('reads of the namespace miss while invalidations wait for Redis, so nothing stale is served meanwhile', async () => {
    await keyv.set('a', 'old', { dependsOn: ['t'] });
    await keyv.set('b', 'kept', { dependsOn: ['u'] });
    server.freeze();
    await store.invalidate('t').catch(() => undefined);
    server.thaw();
    // Redis answers again, but until the queued invalidation has run every read is a miss.
    expect(store.pendingInvalidations).to.be.greaterThan(0);
    expect(await keyv.get('a')).to.equal(undefined);
    expect(await keyv.get('b')).to.equal(undefined);
    expect(await getOrSet(keyv, 'a', () => 'fresh', { dependsOn: ['t'] })).to.equal('fresh');
    await eventually(async () => {
      await store.flushInvalidations();
      return store.pendingInvalidations === 0;
    });
    expect(await keyv.get('a')).to.equal(undefined);
    expect(await keyv.get('b')).to.equal('kept');
  });

  it('Redis killed and restarted: errors while it is down, then the store works again on its own', async () => {
    await keyv.set('k', 'v');
    await server.stop(); // a crash without persistence: the data is gone
    const started = Date.now();
    expect(await keyv.get('k')).to.equal(undefined);
    expect(await keyv.set('k', 'v')).to.equal(false);
    expect(Date.now() - started).to.be.below(3000);
    await server.restart();
    await eventually(async () => (await keyv.set('k2', 'v2', { dependsOn: ['t'] })) === true);
    expect(await keyv.get('k2')).to.equal('v2');
    expect(await store.invalidate('t')).to.equal(1);
    expect(errors.length).to.be.at.least(1);
  });

  it('Redis paused with CLIENT PAUSE and DEBUG SLEEP: calls are bounded by the command timeout', async () => {
    const admin = new Redis(server.url);
    try {
      await keyv.set('k', 'v', { dependsOn: ['t'] });
      await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
      let started = Date.now();
      expect(await keyv.get('k')).to.equal('v'); // reads go on under a write pause
      expect(await keyv.set('k', 'v2')).to.equal(false);
      expect(Date.now() - started).to.be.below(1200);
      await admin.call('CLIENT', 'UNPAUSE');
      const sleeping = admin.call('DEBUG', 'SLEEP', '1');
      // Nothing can say when DEBUG SLEEP has begun (Redis answers no one meanwhile): give it a moment.
      await sleep(50);
      started = Date.now();
      expect(await keyv.get('k')).to.equal(undefined);
      expect(Date.now() - started).to.be.below(800);
      await sleeping;
      await eventually(async () => (await keyv.get('k')) !== undefined);
    } finally {
      await admin.quit();
    }
  });

  it('a retry queue overflow widens what is pending to whole tables, and clears the namespace as a last resort', async () => {
    const small = new CleverStore(server.url, { sweepInterval: 0, commandTimeout: 200, retryQueueSize: 2, namespace: 'overflow' });
    const smallErrors: Error[] = [];
    small.on('error', (e) => smallErrors.push(e));
    try {
      await small.set('p1', 'v', { dependsOn: [matching('posts', { id: 1 })] });
      await small.set('p2', 'v', { dependsOn: [matching('posts', { id: 2 })] });
      await small.set('c', 'v', { dependsOn: [matching('comments', { id: 1 })] });
      await small.set('tagged', 'v', { dependsOn: ['x'] });
      server.freeze();
      for (const id of [1, 3, 4]) await small.invalidate(matching('posts', { id })).catch(() => undefined);
      expect(smallErrors.map((e) => e.message).join('\n')).to.contain('widened to whole tables');
      expect(smallErrors.filter((e) => e instanceof RetryQueueOverflowError).map((e) => [e.namespace, e.action])).to.deep.equal([['overflow', 'widened']]);
      server.thaw();
      await eventually(async () => {
        await small.flushInvalidations();
        return small.pendingInvalidations === 0;
      });
      small.namespace = 'overflow';
      // Widened: every posts entry went (p2 too), comments and the tag stayed.
      expect(await small.get('p1')).to.equal(undefined);
      expect(await small.get('p2')).to.equal(undefined);
      expect(await small.get('c')).to.equal('v');
      expect(await small.get('tagged')).to.equal('v');

      server.freeze();
      for (const tag of ['a', 'b', 'c', 'd']) await small.invalidate(tag).catch(() => undefined);
      expect(smallErrors.map((e) => e.message).join('\n')).to.contain("namespace 'overflow' will be cleared");
      expect(smallErrors.filter((e) => e instanceof RetryQueueOverflowError).map((e) => [e.namespace, e.action])).to.deep.include(['overflow', 'clear']);
      server.thaw();
      await eventually(async () => {
        await small.flushInvalidations();
        return small.pendingInvalidations === 0;
      });
      expect(await small.get('c')).to.equal(undefined);
      expect(await small.get('tagged')).to.equal(undefined);
    } finally {
      await small.disconnect();
    }
  });
});
