import { expect } from 'chai';
import Keyv from 'keyv';
import { DataTypes, Sequelize, type Model, type ModelStatic } from 'sequelize';
import { CleverStore, getOrSet } from '../lib/index.js';
import { registerSequelizeHooks, type SequelizeHooks } from '../lib/sequelize/index.js';
import { PrivateRedis } from './support/redis-server.js';
import { eventually } from './support/eventually.js';

type Row = Model & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('Redis faults during Sequelize writes (SQLite, a redis-server the test owns)', function () {
  this.timeout(60_000);
  let server: PrivateRedis;
  let sequelize: Sequelize;
  let store: CleverStore;
  let keyv: Keyv;
  let Post: ModelStatic<Row>;
  let hooks: SequelizeHooks;
  const errors: Error[] = [];

  before(async () => {
    server = await PrivateRedis.start();
    sequelize = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
    Post = sequelize.define('Post', { title: DataTypes.STRING }, { tableName: 'posts' }) as ModelStatic<Row>;
    await sequelize.sync();
    store = new CleverStore(server.url, { sweepInterval: 0, commandTimeout: 300 });
    store.on('error', (e) => errors.push(e));
    keyv = new Keyv({ store, namespace: 'faults-sequelize' });
    hooks = registerSequelizeHooks(sequelize, keyv);
  });
  after(async () => {
    hooks.unregister(); // registrations are process-wide: leave none behind for other suites
    server.thaw();
    await store.disconnect();
    await sequelize.close();
    await server.stop();
  });

  it('writes succeed and return promptly while Redis hangs; what they changed is invalidated when it answers', async () => {
    const post = await Post.create({ title: 'before' });
    const other = await Post.create({ title: 'other' });
    const read = (p: Row) => getOrSet(keyv, `post:${p.id}`, async () => (await Post.findByPk(p.id))!.title, { dependsOn: [p] });
    expect(await read(post)).to.equal('before');
    expect(await read(other)).to.equal('other');

    server.freeze();
    const started = Date.now();
    await post.update({ title: 'during outage' });
    await sequelize.transaction(async (transaction) => { await post.update({ title: 'in a transaction' }, { transaction }); });
    await Post.update({ title: 'bulk' }, { where: { id: post.id } });
    expect(Date.now() - started).to.be.below(3000); // each write waits at most about one command timeout
    expect(errors.length).to.be.greaterThan(0);
    expect(store.pendingInvalidations).to.be.greaterThan(0);
    // Reads go to the database meanwhile.
    expect(await read(post)).to.equal('bulk');

    server.thaw();
    await eventually(async () => {
      await store.flushInvalidations();
      return store.pendingInvalidations === 0;
    }, { what: 'the queued invalidations run' });
    expect(await keyv.get(`post:${post.id}`)).to.equal(undefined); // the stale 'before' is gone
    expect(await keyv.get(`post:${other.id}`)).to.equal('other'); // the rest stayed
    expect(await read(post)).to.equal('bulk');
  });
});

describe('eviction under a small maxmemory (a redis-server the test owns)', function () {
  this.timeout(60_000);
  const big = 'x'.repeat(2000);

  it('volatile-lru: values are evicted, indexes are not, and no invalidation is lost', async () => {
    const server = await PrivateRedis.start(['--maxmemory', '4mb', '--maxmemory-policy', 'volatile-lru']);
    const store = new CleverStore(server.url, { sweepInterval: 0, namespace: 'evict' });
    const errors: Error[] = [];
    store.on('error', (e) => errors.push(e));
    try {
      const written: string[] = [];
      for (let i = 0; i < 4000; i++) {
        if (await store.set(`k${i}`, big, { ttl: 600_000, dependsOn: [`t${i % 10}`] })) written.push(`k${i}`);
      }
      const evicted = Number(/evicted_keys:(\d+)/.exec(await store.client!.info('stats'))?.[1]);
      expect(evicted).to.be.greaterThan(100);
      expect(written.length).to.equal(4000); // volatile keys make room for new ones
      const survivors = (await store.getMany(written)).filter((v) => v !== undefined).length;
      expect(survivors).to.be.within(1, 3999);
      // Invalidate every tag: not one surviving entry may remain.
      for (let t = 0; t < 10; t++) await store.invalidate(`t${t}`);
      expect((await store.getMany(written)).filter((v) => v !== undefined)).to.deep.equal([]);
      expect(errors.filter((e) => /maxmemory-policy/.test(e.message))).to.deep.equal([]);
    } finally {
      await store.disconnect();
      await server.stop();
    }
  });

  it('noeviction: once Redis is full, writes are skipped with an error, and invalidations still run', async () => {
    const server = await PrivateRedis.start(['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction']);
    const store = new CleverStore(server.url, { sweepInterval: 0, namespace: 'full' });
    const errors: Error[] = [];
    store.on('error', (e) => errors.push(e));
    try {
      const written: string[] = [];
      for (let i = 0; i < 4000 && errors.length === 0; i++) {
        if (await store.set(`k${i}`, big, { dependsOn: ['all', `t${i % 10}`] })) written.push(`k${i}`);
      }
      expect(errors.map((e) => e.message).join()).to.match(/OOM/);
      expect(await store.set('one-more', big, { dependsOn: ['all'] })).to.equal(false);
      // Invalidation frees memory and must never be refused for lack of it (its scripts allow OOM).
      expect(await store.invalidate('t3')).to.equal(written.filter((_, i) => i % 10 === 3).length);
      expect(await store.invalidate('all')).to.equal(written.length - written.filter((_, i) => i % 10 === 3).length);
      expect(await store.set('after', 'small', { dependsOn: ['all'] })).to.equal(true);
    } finally {
      await store.disconnect();
      await server.stop();
    }
  });

  it('allkeys-lru: the store warns at connect (and refuses when asked)', async () => {
    const server = await PrivateRedis.start(['--maxmemory', '4mb', '--maxmemory-policy', 'allkeys-lru']);
    const store = new CleverStore(server.url, { sweepInterval: 0, namespace: 'evict' });
    try {
      const warning = await new Promise<Error>((resolve) => store.once('error', resolve));
      expect(warning.message).to.match(/allkeys-lru.*stale/);
    } finally {
      await store.disconnect();
      await server.stop();
    }
  });
});
