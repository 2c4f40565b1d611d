/**
 * The cached() API: which Keyv and ttl it uses, its typed errors, per-call `cache: false`, the
 * `cacheQueries` defaults of registerSequelizeHooks, and calls it leaves to the database.
 */
import { expect } from 'chai';
import Keyv from 'keyv';
import { Op } from 'sequelize';
import { CleverStore, InvalidOptionError } from '../../../lib/index.js';
import { cached, QueryCacheRegistrationError, registerSequelizeHooks } from '../../../lib/sequelize/index.js';
import { matrix, openStore, seed, unique } from '../support.js';
import { eventually } from '../../support/eventually.js';
import { countSelects } from './support.js';

matrix('cached(): the API', (env) => {
  /** The number of queries `run` sent to the database. */
  async function selects(run: () => Promise<unknown>): Promise<number> {
    const counter = countSelects(env.sequelize);
    try {
      await run();
      return counter.count;
    } finally {
      counter.stop();
    }
  }

  it('caches in the Keyv of the registration, under a key that names the model and finder only', async () => {
    const { Post } = env.models;
    const { a1 } = await seed(env);
    await cached(Post).findAll({ where: { authorId: a1.get('id'), title: 'secret title' } });
    const keys: string[] = [];
    for await (const [key] of env.keyv.iterator!(undefined)) keys.push(String(key));
    expect(keys).to.have.length(1);
    expect(keys[0]).to.match(/^q:Post:findAll:[A-Za-z0-9_-]{43}$/);
    expect(keys[0]).not.to.include('secret');
  });

  it('two calls share an entry only when every option agrees; key order in objects does not matter', async () => {
    const { Post } = env.models;
    const { a1 } = await seed(env);
    const c = cached(Post);
    await c.findAll({ where: { authorId: a1.get('id'), status: 'draft' }, order: [['id', 'ASC']] });
    expect(await selects(() => c.findAll({ order: [['id', 'ASC']], where: { status: 'draft', authorId: a1.get('id') } }))).to.equal(0);
    expect(await selects(() => c.findAll({ where: { authorId: a1.get('id'), status: 'draft' }, order: [['id', 'DESC']] }))).to.equal(1);
    expect(await selects(() => c.findAll({ where: { authorId: a1.get('id'), status: 'draft' }, order: [['id', 'ASC']], limit: 1 }))).to.equal(1);
    expect(await selects(() => cached(Post.scope('published')).findAll({ where: { authorId: a1.get('id'), status: 'draft' }, order: [['id', 'ASC']] }))).to.equal(1);
    expect(await selects(() => c.findAll({ where: { authorId: a1.get('id'), status: 'draft' }, order: [['id', 'ASC']], raw: true }))).to.equal(1);
    expect(await selects(() => c.findAll({ where: { authorId: a1.get('id'), status: { [Op.eq]: 'draft' } }, order: [['id', 'ASC']] }))).to.equal(1);
  });

  it('{ cache: false } goes to the database and stores nothing; lock goes there too', async () => {
    const { Post } = env.models;
    await seed(env);
    expect(await selects(() => cached(Post).count({ cache: false }))).to.equal(1);
    expect(await selects(() => cached(Post).count())).to.equal(1);
    expect(await selects(() => cached(Post).count({ cache: false }))).to.equal(1);
    expect(await selects(() => cached(Post).count())).to.equal(0);
    if (env.dialect !== 'sqlite') {
      await env.sequelize.transaction(async (transaction) => {
        expect(await selects(() => cached(Post).findAll({ where: { status: 'draft' }, lock: true, transaction }))).to.equal(1);
        expect(await selects(() => cached(Post).findAll({ where: { status: 'draft' }, lock: true, transaction }))).to.equal(1);
      });
    }
  });

  it('ttl: from cached(), else from cacheQueries, else the store\'s', async () => {
    const { Post } = env.models;
    await seed(env);
    env.hooks.unregister();
    env.hooks = registerSequelizeHooks(env.sequelize, env.keyv, { cacheQueries: { ttl: 60_000 } });
    const cachedKeys = async () => {
      const keys: string[] = [];
      for await (const [key] of env.keyv.iterator!(undefined)) keys.push(String(key));
      return keys.length;
    };
    await cached(Post, { ttl: 1 }).count({ where: { status: 'draft' } });
    await cached(Post).count({ where: { status: 'published' } });
    await eventually(async () => (await cachedKeys()) === 1, { what: 'the 1 ms entry expiring' });
    expect(await selects(() => cached(Post).count({ where: { status: 'published' } })), 'the cacheQueries ttl (60 s) keeps its entry').to.equal(0);
    expect(await selects(() => cached(Post, { ttl: 1 }).count({ where: { status: 'draft' } }))).to.equal(1);
  });

  it('cacheQueries: false sends every cached() finder of the instance to the database', async () => {
    const { Post } = env.models;
    await seed(env);
    env.hooks.unregister();
    env.hooks = registerSequelizeHooks(env.sequelize, env.keyv, { cacheQueries: false });
    await cached(Post).count();
    expect(await selects(() => cached(Post).count())).to.equal(1);
  });

  it('typed errors: no registration, a bare store registered, a Keyv of another store, bad options', async () => {
    const { Post } = env.models;
    env.hooks.unregister();
    let error = await cached(Post).findAll().catch((e: unknown) => e);
    expect(error).to.be.instanceOf(QueryCacheRegistrationError).and.to.have.property('reason', 'none');
    expect((error as Error).message).to.match(/cached\(Post\): the Sequelize instance of Post has no registerSequelizeHooks/);
    env.hooks = registerSequelizeHooks(env.sequelize, env.store);
    error = await cached(Post).count().catch((e: unknown) => e);
    expect(error).to.be.instanceOf(QueryCacheRegistrationError).and.to.have.property('reason', 'store');
    expect(await cached(Post, { keyv: env.keyv }).count()).to.equal(0);
    const other = openStore(env.backend);
    try {
      const keyv = new Keyv({ store: other, namespace: unique('kc-other') });
      error = await cached(Post, { keyv }).count().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(QueryCacheRegistrationError).and.to.have.property('reason', 'other-store');
    } finally {
      await other.disconnect();
    }
    expect(() => cached(Post, { ttl: -1 })).to.throw(InvalidOptionError, /ttl must be a number of ms >= 0, got -1/);
    expect(() => cached(Post, { keyv: new Keyv() })).to.throw(InvalidOptionError, /keyv must be a Keyv whose store is a CleverStore/);
    expect(() => cached(Post, { tll: 5 } as never)).to.throw(InvalidOptionError, /unknown option 'tll'/);
    expect(() => cached({} as never)).to.throw(InvalidOptionError, /must be a Sequelize model/);
    expect(await cached(Post, { keyv: env.keyv }).count({ cache: 'no' } as never).catch((e: unknown) => e)).to.be.instanceOf(InvalidOptionError);
    expect(() => registerSequelizeHooks(env.sequelize, env.keyv, { cacheQueries: { ttl: 'long' } } as never)).to.throw(InvalidOptionError, /cacheQueries.ttl must be a number/);
  });

  it('a query Sequelize refuses fails as it does uncached; options no key can describe are not cached', async () => {
    const { Post } = env.models;
    await seed(env);
    const refused = await cached(Post).findAll({ include: ['nope'] }).catch((e: unknown) => e);
    const direct = await Post.findAll({ include: ['nope'] }).catch((e: unknown) => e);
    expect((refused as Error).message).to.equal((direct as Error).message);
    class Weird { toString() { return 'draft'; } }
    const options = { where: { status: String(new Weird()) }, rejectOnEmpty: Weird } as never;
    await cached(Post).findAll(options);
    expect(await selects(() => cached(Post).findAll(options))).to.equal(1);
  });

  it('the store failing never fails the query', async () => {
    const { Post } = env.models;
    await seed(env);
    const broken = new CleverStore('redis://127.0.0.1:1', { sweepInterval: 0, connectTimeout: 200, maxRetriesPerRequest: 0 } as never);
    const errors: Error[] = [];
    broken.on('error', (e) => errors.push(e));
    const keyv = new Keyv({ store: broken });
    const hooks = registerSequelizeHooks(env.sequelize, keyv);
    try {
      expect(await cached(Post, { keyv }).count()).to.equal(3);
      expect(errors.length).to.be.greaterThan(0);
    } finally {
      hooks.unregister();
      await broken.disconnect();
    }
  });
}, { backends: ['memory', 'redis'] });
