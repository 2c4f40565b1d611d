/**
 * Commit-time invalidation: once, after the root transaction commits (explicit `{ transaction }`
 * and CLS), never for a rollback, and never failing the user's write or commit.
 */
import { expect } from 'chai';
import Keyv from 'keyv';
import { Transaction } from 'sequelize';
import { CleverStore, getOrSet } from '../../lib/index.js';
import { registerSequelizeHooks, related, tablesWrittenIn } from '../../lib/sequelize/index.js';
import { matrix, openStore, seed, unique, useCls } from './support.js';

matrix('transactions (explicit)', (env) => {
  it('invalidates once, after commit, not before', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], a3posts: [related(a3, 'posts')], p2: [p2], a2posts: [related(a2, 'posts')] });
    const events: number[] = [];
    const onInvalidate = ({ removed }: { removed: number }) => events.push(removed);
    env.store.on('invalidate', onInvalidate);
    try {
      const t = await env.sequelize.transaction();
      await p1.update({ title: 'in tx' }, { transaction: t });
      await Post.update({ authorId: a3.get('id') }, { where: { id: p1.get('id') }, transaction: t });
      await Post.create({ title: 'new', authorId: a3.get('id') }, { transaction: t });
      await env.expectCache({ kept: ['p1', 'a1posts', 'a3posts', 'p2', 'a2posts'] });
      expect(events).to.deep.equal([]);
      await t.commit();
      await env.expectCache({ gone: ['p1', 'a1posts', 'a3posts'], kept: ['p2', 'a2posts'] });
      expect(events).to.deep.equal([3]);
    } finally {
      env.store.off('invalidate', onInvalidate);
    }
  });

  it('a managed transaction invalidates when its callback has committed', async () => {
    const { a1, a2, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2], a2posts: [related(a2, 'posts')] });
    await env.sequelize.transaction(async (transaction) => {
      await p1.update({ title: 'managed' }, { transaction });
      await env.expectCache({ kept: ['p1', 'a1posts'] });
    });
    await env.expectCache({ gone: ['p1', 'a1posts'], kept: ['p2', 'a2posts'] });
  });

  it('a rollback invalidates nothing', async () => {
    const { Post } = env.models;
    const { a1, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2] });
    const t = await env.sequelize.transaction();
    await p1.update({ title: 'rolled back' }, { transaction: t });
    await Post.destroy({ where: { id: p2.get('id') }, transaction: t });
    await t.rollback();
    await env.expectCache({ kept: ['p1', 'a1posts', 'p2'] });
    expect((await Post.findByPk(p1.get('id') as number))!.get('title')).to.equal('p1');
    // …and the next write outside the transaction still invalidates.
    await p1.reload();
    await p1.update({ title: 'after' });
    await env.expectCache({ gone: ['p1', 'a1posts'], kept: ['p2'] });
  });

  it('a managed transaction whose callback throws invalidates nothing', async () => {
    const { a1, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2] });
    const failure = await env.sequelize.transaction(async (transaction) => {
      await p1.update({ title: 'doomed' }, { transaction });
      throw new Error('boom');
    }).catch((error: Error) => error);
    expect((failure as Error).message).to.equal('boom');
    await env.expectCache({ kept: ['p1', 'a1posts', 'p2'] });
  });

  it('a savepoint released, then the outer transaction rolled back: nothing is invalidated', async () => {
    const { a1, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2] });
    const outer = await env.sequelize.transaction();
    const savepoint = await env.sequelize.transaction({ transaction: outer });
    await p1.update({ title: 'in savepoint' }, { transaction: savepoint });
    await savepoint.commit(); // fires the savepoint's own afterCommit: too early to invalidate
    await env.expectCache({ kept: ['p1', 'a1posts', 'p2'] });
    await outer.rollback();
    await env.expectCache({ kept: ['p1', 'a1posts', 'p2'] });
  });

  it('a savepoint released, then the outer transaction committed: invalidated at the outer commit', async () => {
    const { a1, a2, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2], a2posts: [related(a2, 'posts')] });
    const outer = await env.sequelize.transaction();
    const savepoint = await env.sequelize.transaction({ transaction: outer });
    await p1.update({ title: 'in savepoint' }, { transaction: savepoint });
    await savepoint.commit();
    await env.expectCache({ kept: ['p1', 'a1posts'] });
    await outer.commit();
    await env.expectCache({ gone: ['p1', 'a1posts'], kept: ['p2', 'a2posts'] });
  });

  it('a savepoint rolled back inside a committed transaction: the outer writes are invalidated', async () => {
    const { a1, a2, a3, p1, p2, p3 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p3: [p3], a3posts: [related(a3, 'posts')], a2posts: [related(a2, 'posts')] });
    await env.sequelize.transaction(async (outer) => {
      await p1.update({ title: 'outer' }, { transaction: outer });
      const savepoint = await env.sequelize.transaction({ transaction: outer });
      await p2.update({ title: 'undone' }, { transaction: savepoint });
      await savepoint.rollback();
    });
    expect((await p2.reload()).get('title')).to.equal('p2');
    // p2's rolled-back change may still be invalidated (conservative); p3 and a3 were never touched.
    await env.expectCache({ gone: ['p1', 'a1posts'], kept: ['p3', 'a3posts'] });
  });

  it('a reader during an open transaction caches what it saw; the commit removes it', async () => {
    const { Post } = env.models;
    const { a1, p1, p2 } = await seed(env);
    await env.cache({ p2: [p2] });
    const t = await env.sequelize.transaction();
    await p1.update({ title: 'uncommitted' }, { transaction: t });
    // A concurrent request, outside the transaction, reads and caches.
    const seen = await Post.findByPk(p1.get('id') as number, { transaction: null });
    if (env.dialect === 'postgres') expect(seen!.get('title')).to.equal('p1'); // read committed
    await env.keyv.set('reader', seen!.get('title'), { dependsOn: [p1, related(a1, 'posts')] });
    await env.expectCache({ kept: ['reader', 'p2'] });
    await t.commit();
    await env.expectCache({ gone: ['reader'], kept: ['p2'] });
  });

  it('getOrSet inside a transaction does not cache values read from what the transaction wrote', async () => {
    const { Post, Author } = env.models;
    const { p1, a1 } = await seed(env);
    await env.cache({ other: [Author] });
    // READ COMMITTED: under MariaDB's default REPEATABLE READ nothing is stored (snapshots.test.ts).
    await env.sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED }, async (transaction) => {
      await p1.update({ title: 'uncommitted' }, { transaction });
      expect(tablesWrittenIn(transaction)).to.deep.equal(['posts']);
      const loaded = await getOrSet(env.keyv, 'inside', async () => (await Post.findByPk(p1.get('id') as number, { transaction }))!.get('title'), { dependsOn: [p1], transaction });
      expect(loaded).to.equal('uncommitted');
      const author = await getOrSet(env.keyv, 'author', async () => (await Author.findByPk(a1.get('id') as string, { transaction }))!.get('name'), { dependsOn: [a1], transaction });
      expect(author).to.equal('a1');
    });
    await env.expectCache({ gone: ['inside'], kept: ['author', 'other'] });
  });
});

matrix('transactions (CLS)', (env) => {
  useCls();

  it('writes inside a CLS transaction are invalidated after its commit', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], a3posts: [related(a3, 'posts')], p2: [p2], a2posts: [related(a2, 'posts')] });
    await env.sequelize.transaction(async () => {
      await p1.update({ title: 'cls' }); // no { transaction }: found through CLS
      await Post.update({ authorId: a3.get('id') }, { where: { id: p1.get('id') } });
      await env.expectCache({ kept: ['p1', 'a1posts', 'a3posts'] });
    });
    await env.expectCache({ gone: ['p1', 'a1posts', 'a3posts'], kept: ['p2', 'a2posts'] });
  });

  it('a CLS transaction that rolls back invalidates nothing', async () => {
    const { a1, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2] });
    await env.sequelize.transaction(async () => {
      await p1.update({ title: 'cls rollback' });
      throw new Error('undo');
    }).catch(() => undefined);
    await env.expectCache({ kept: ['p1', 'a1posts', 'p2'] });
    // Outside any transaction (the CLS slot is cleared) writes invalidate at once.
    await p1.reload();
    await p1.update({ title: 'now' });
    await env.expectCache({ gone: ['p1', 'a1posts'], kept: ['p2'] });
  });

  it('a nested CLS transaction (savepoint) waits for the root commit; a rolled-back root drops it', async () => {
    const { a1, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2] });
    await env.sequelize.transaction(async (outer) => {
      // Sequelize nests only when told: { transaction: outer } makes a savepoint, held in CLS.
      await env.sequelize.transaction({ transaction: outer }, async (inner) => {
        expect((inner as unknown as { parent?: Transaction }).parent).to.equal(outer);
        await p1.update({ title: 'nested' });
      });
      await env.expectCache({ kept: ['p1', 'a1posts'] });
      throw new Error('root rolls back');
    }).catch(() => undefined);
    await env.expectCache({ kept: ['p1', 'a1posts', 'p2'] });
    await env.sequelize.transaction(async (outer) => {
      await env.sequelize.transaction({ transaction: outer }, async () => {
        await p1.reload();
        await p1.update({ title: 'nested, committed' });
      });
      await env.expectCache({ kept: ['p1', 'a1posts'] });
    });
    await env.expectCache({ gone: ['p1', 'a1posts'], kept: ['p2'] });
  });

  it('getOrSet finds the CLS transaction and does not cache uncommitted reads', async () => {
    const { Post } = env.models;
    const { p1, p2 } = await seed(env);
    await env.sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED }, async () => {
      await p1.update({ title: 'uncommitted' });
      await getOrSet(env.keyv, 'inside', async () => (await Post.findByPk(p1.get('id') as number))!.get('title'), { dependsOn: [p1] });
      await getOrSet(env.keyv, 'p2', async () => (await Post.findByPk(p2.get('id') as number))!.get('title'), { dependsOn: [p2] });
    });
    await env.expectCache({ gone: ['inside'], kept: ['p2'] });
  });
});

matrix('cache failures never fail the write', (env) => {
  async function brokenStore(kind: 'closed' | 'unreachable'): Promise<{ keyv: Keyv; store: CleverStore; errors: Error[] }> {
    const store = kind === 'closed'
      ? openStore('redis')
      : new CleverStore('redis://127.0.0.1:1/2', { sweepInterval: 0, onUnsafeEviction: 'ignore', maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
    const errors: Error[] = [];
    store.on('error', (error) => errors.push(error));
    const keyv = new Keyv({ store, namespace: unique('kc-broken') });
    if (kind === 'closed') await store.disconnect();
    return { keyv, store, errors };
  }

  for (const kind of ['closed', 'unreachable'] as const) {
    it(`a store whose Redis is ${kind}: writes and commits succeed, errors are emitted, other stores still invalidate`, async () => {
      const { Post } = env.models;
      const { a1, p1, p2 } = await seed(env);
      const broken = await brokenStore(kind);
      const hooks = registerSequelizeHooks(env.sequelize, broken.keyv);
      try {
        await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2] });
        await p1.update({ title: 'despite the cache' });
        await Post.update({ views: 9 }, { where: { id: p1.get('id') } });
        await env.sequelize.transaction(async (transaction) => {
          await Post.create({ title: 'in tx' }, { transaction });
        });
        const t = await env.sequelize.transaction();
        await p1.update({ title: 'explicit' }, { transaction: t });
        await t.commit();
        await p1.increment('views'); // the safety net path
        expect((await Post.findByPk(p1.get('id') as number))!.get('title')).to.equal('explicit');
        expect(broken.errors.length).to.be.greaterThan(0);
        await env.expectCache({ gone: ['p1', 'a1posts', 'p2'] });
        await env.cache({ p2: [p2], p1: [p1] });
        await p1.update({ title: 'exact again' });
        await env.expectCache({ gone: ['p1'], kept: ['p2'] });
      } finally {
        hooks.unregister();
        if (kind === 'unreachable') await broken.store.disconnect().catch(() => undefined);
      }
    });
  }
}, { backends: ['memory'] });
