/**
 * A transaction reads its own writes through getOrSet: an entry cached before the transaction
 * wrote one of its dependencies is not served inside that transaction (its invalidation waits
 * for the commit), explicit `{ transaction }` and CLS alike.
 */
import { expect } from 'chai';
import { getOrSet } from '../../lib/index.js';
import { related } from '../../lib/sequelize/index.js';
import { matrix, seed, useCls } from './support.js';

matrix('getOrSet inside a transaction that wrote a dependency', (env) => {
  it('runs the loader instead of answering from the cache, and stores nothing', async () => {
    const { Post, Author } = env.models;
    const { a1, p1, p2 } = await seed(env);
    const title = (id: unknown, transaction?: unknown) => async () => (await Post.findByPk(id as number, { transaction } as never))!.get('title');
    expect(await getOrSet(env.keyv, 'p1', title(p1.get('id')), { dependsOn: [p1] })).to.equal('p1');
    expect(await getOrSet(env.keyv, 'p2', title(p2.get('id')), { dependsOn: [p2] })).to.equal('p2');
    expect(await getOrSet(env.keyv, 'a1', async () => (await Author.findByPk(a1.get('id') as string))!.get('name'), { dependsOn: [a1] })).to.equal('a1');
    await env.sequelize.transaction(async (transaction) => {
      await p1.update({ title: 'own write' }, { transaction });
      let loads = 0;
      const counted = (load: () => Promise<unknown>) => () => { loads++; return load(); };
      expect(await getOrSet(env.keyv, 'p1', counted(title(p1.get('id'), transaction)), { dependsOn: [p1], transaction })).to.equal('own write');
      expect(loads).to.equal(1);
      // The table was written: an entry on a whole-table or association dependency misses too.
      expect(await getOrSet(env.keyv, 'p1', counted(title(p1.get('id'), transaction)), { dependsOn: [related(a1, 'posts')], transaction })).to.equal('own write');
      expect(loads).to.equal(2);
      // Nothing the transaction wrote: hits.
      expect(await getOrSet(env.keyv, 'a1', counted(async () => 'loaded'), { dependsOn: [a1], transaction })).to.equal('a1');
      expect(await getOrSet(env.keyv, 'p2', counted(async () => 'loaded'), { dependsOn: [p2], transaction })).to.equal('p2');
      expect(loads).to.equal(2);
    });
    await env.expectCache({ gone: ['p1'], kept: ['p2', 'a1'] });
  });

});

matrix('getOrSet inside a CLS transaction that wrote a dependency', (env) => {
  useCls();

  it('finds the transaction through CLS', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    const load = async () => (await Post.findByPk(p1.get('id') as number))!.get('title');
    expect(await getOrSet(env.keyv, 'p1', load, { dependsOn: [p1] })).to.equal('p1');
    await env.sequelize.transaction(async () => {
      await p1.update({ title: 'own write' });
      expect(await getOrSet(env.keyv, 'p1', load, { dependsOn: [p1] })).to.equal('own write');
    });
    expect(await getOrSet(env.keyv, 'p1', load, { dependsOn: [p1] })).to.equal('own write');
  });
});
