/**
 * What a cached finder call depends on: exactly the rows its result reads, derived from the query
 * (where, includes, literals). A write to those rows invalidates the entry, a write elsewhere
 * leaves it; inside a transaction that wrote them the call goes to the database.
 */
import { expect } from 'chai';
import { Op, literal, type Model } from 'sequelize';
import { cached, matching } from '../../../lib/sequelize/index.js';
import { call, matrix, seed } from '../support.js';
import { countSelects } from './support.js';

/** The finder a query-cache key names (`q:<Model>:<finder>:<hash>`). */
const finder = (key: string) => key.split(':')[2];

matrix('cached finders: dependencies', (env) => {
  /** Runs `query` and tells whether it was served from the cache (no query reached the database). */
  async function hit(query: () => Promise<unknown>): Promise<boolean> {
    const selects = countSelects(env.sequelize);
    try {
      await query();
      return selects.count === 0;
    } finally {
      selects.stop();
    }
  }
  /** Caches `query`, runs `write`, and tells whether the entry survived it. */
  async function survives(query: () => Promise<unknown>, write: () => Promise<unknown>): Promise<boolean> {
    await query();
    expect(await hit(query), 'cached before the write').to.equal(true);
    await write();
    return hit(query);
  }

  it('an equality where depends on its conjunction: rows of other values leave it', async () => {
    const { Post } = env.models;
    const { a1, a2, p1, p2 } = await seed(env);
    const q = () => cached(Post).findAll({ where: { authorId: a1.get('id'), status: 'draft' } });
    expect(await survives(q, () => p2.update({ title: 'other author' }))).to.equal(true);
    expect(await survives(q, () => Post.create({ title: 'draft of a2', authorId: a2.get('id') }))).to.equal(true);
    expect(await survives(q, () => Post.create({ title: 'published of a1', authorId: a1.get('id'), status: 'published' }))).to.equal(true);
    expect(await survives(q, () => p1.update({ views: 3 }))).to.equal(false);
    expect(await survives(q, () => p2.update({ authorId: a1.get('id'), status: 'draft' })), 'a row moving in').to.equal(false);
  });

  it('Op.in, Op.eq, Op.is and Op.or of equalities are unions of conjunctions', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p3 } = await seed(env);
    const q = () => cached(Post).count({ where: { authorId: { [Op.in]: [a1.get('id'), a2.get('id')] } } });
    expect(await survives(q, () => p3.update({ title: 'a3 only' }))).to.equal(true);
    expect(await survives(q, () => Post.create({ authorId: a2.get('id') }))).to.equal(false);
    const r = () => cached(Post).findAll({ where: { [Op.or]: [{ authorId: { [Op.eq]: a3.get('id') } }, { authorId: { [Op.is]: null } }] } });
    expect(await survives(r, () => Post.create({ authorId: a1.get('id') }))).to.equal(true);
    expect(await survives(r, () => Post.create({ authorId: null }))).to.equal(false);
  });

  it('a range, LIKE or literal condition depends on the whole table', async () => {
    const { Post } = env.models;
    const { p3 } = await seed(env);
    const q = () => cached(Post).findAll({ where: { views: { [Op.gt]: 10 } } });
    expect(await survives(q, () => p3.update({ title: 'anything' }))).to.equal(false);
    const like = () => cached(Post).findAll({ where: { title: { [Op.like]: 'p%' } } });
    expect(await survives(like, () => p3.update({ views: 1 }))).to.equal(false);
  });

  it('findByPk depends on that row only', async () => {
    const { Post } = env.models;
    const { p1, p2 } = await seed(env);
    const q = () => cached(Post).findByPk(p1.get('id') as number);
    expect(await survives(q, () => p2.update({ title: 'x' }))).to.equal(true);
    expect(await survives(q, () => Post.create({ title: 'new' }))).to.equal(true);
    expect(await survives(q, () => p1.update({ title: 'x' }))).to.equal(false);
  });

  it('a hasMany include depends on the found parents\' children only', async () => {
    const { Post, Comment } = env.models;
    const { a1, p1, p2, c2 } = await seed(env);
    const q = () => cached(Post).findAll({ where: { authorId: a1.get('id') }, include: ['comments'] });
    expect(await survives(q, () => c2.update({ body: 'on p2' }))).to.equal(true);
    expect(await survives(q, () => Comment.create({ body: 'new on p2', postId: p2.get('id') }))).to.equal(true);
    expect(await survives(q, () => Comment.create({ body: 'new on p1', postId: p1.get('id') }))).to.equal(false);
    expect(await survives(q, () => c2.update({ postId: p1.get('id') })), 'a child moving in').to.equal(false);
  });

  it('a belongsToMany include depends on the membership and the rows found, a belongsTo on its target', async () => {
    const { Post, Tag } = env.models;
    const { p1, p2, t1, t2 } = await seed(env);
    const t3 = await Tag.create({ name: 't3' });
    const q = () => cached(Post).findByPk(p1.get('id') as number, { include: ['tags', 'author'] });
    expect(await survives(q, () => call(p2, 'addTag', t3))).to.equal(true);
    expect(await survives(q, () => t2.update({ name: 't2 renamed' }))).to.equal(true);
    expect(await survives(q, () => t1.update({ name: 't1 renamed' }))).to.equal(false);
    expect(await survives(q, () => call(p1, 'addTag', t3))).to.equal(false);
    expect(await survives(q, () => call(p1, 'setTags', []))).to.equal(false);
    const { Author } = env.models;
    expect(await survives(q, () => Author.update({ name: 'renamed' }, { where: { id: p1.get('authorId') as number } }))).to.equal(false);
  });

  it('a required include depends on every row its where can match (they decide which parents are found)', async () => {
    const { Post, Comment } = env.models;
    const { p3 } = await seed(env);
    const q = () => cached(Post).findAll({ include: [{ association: 'comments', where: { body: 'needle' } }] });
    expect(await survives(q, () => Comment.create({ body: 'hay', postId: p3.get('id') }))).to.equal(true);
    expect(await survives(q, () => Comment.create({ body: 'needle', postId: p3.get('id') }))).to.equal(false);
    expect((await q() as Model[]).map((p) => p.get('id'))).to.deep.equal([p3.get('id')]);
  });

  it('counts and aggregates over includes depend on the included rows as a whole', async () => {
    const { Post, Comment } = env.models;
    const { a1, p3 } = await seed(env);
    const q = () => cached(Post).count({ where: { authorId: a1.get('id') }, include: ['comments'] });
    expect(await survives(q, () => Comment.create({ body: 'x', postId: p3.get('id') }))).to.equal(false);
  });

  it('a literal depends on every model table it names', async () => {
    const { Post, Comment } = env.models;
    const { p3 } = await seed(env);
    const q = () => cached(Post).findAll({ attributes: ['id', [literal('(SELECT COUNT(*) FROM comments)'), 'n']] });
    expect(await survives(q, () => Comment.create({ body: 'x', postId: p3.get('id') }))).to.equal(false);
  });

  it('store.entriesFor(dep) lists the cached queries under a dependency; for a row, those a change of it would invalidate', async () => {
    const { Post } = env.models;
    const { a1, a2, p1 } = await seed(env);
    await cached(Post).findAll({ where: { authorId: a1.get('id') } });
    await cached(Post).findByPk(p1.get('id') as number);
    await cached(Post).findAll({ where: { authorId: a2.get('id') } });
    await cached(Post).count({ where: { views: { [Op.gte]: 0 } } });
    const byAuthor = await env.store.entriesFor(matching(Post, { authorId: a1.get('id') }));
    const byOtherAuthor = await env.store.entriesFor(matching(Post, { authorId: a2.get('id') }));
    const byRow = await env.store.entriesFor(p1);
    const byTable = await env.store.entriesFor(Post);
    expect({ byAuthor: byAuthor.map(finder), byTable: byTable.map(finder) }).to.deep.equal({ byAuthor: ['findAll'], byTable: ['count'] });
    // A row: every cached query a change of it would invalidate (its author's list, itself, the
    // whole-table count), not another author's list.
    expect(byRow.map(finder).sort()).to.deep.equal(['count', 'findAll', 'findByPk']);
    expect(byRow).to.include(byAuthor[0]).and.not.include(byOtherAuthor[0]);
  });

  describe('transactions', () => {
    it('inside a transaction that wrote a table the query reads: the database, and nothing stored', async () => {
      const { Post } = env.models;
      const { a1 } = await seed(env);
      const q = (transaction?: unknown) => cached(Post).count({ where: { authorId: a1.get('id') }, transaction: transaction as never });
      expect(await q()).to.equal(1);
      await env.sequelize.transaction(async (transaction) => {
        await Post.create({ title: 'uncommitted', authorId: a1.get('id') }, { transaction });
        expect(await q(transaction), 'sees its own write').to.equal(2);
        expect(await hit(() => q(transaction))).to.equal(false);
        throw new Error('rollback');
      }).catch((error: Error) => expect(error.message).to.equal('rollback'));
      expect(await hit(() => q())).to.equal(true);
      expect(await q()).to.equal(1);
    });

    it('inside a transaction that wrote other tables (or other rows): hits', async () => {
      const { Post, Tag } = env.models;
      const { a1, a2 } = await seed(env);
      const q = (transaction?: unknown) => cached(Post).findAll({ where: { authorId: a1.get('id') }, transaction: transaction as never });
      await q();
      await env.sequelize.transaction(async (transaction) => {
        await Tag.create({ name: 'in tx' }, { transaction });
        await Post.create({ title: 'of a2', authorId: a2.get('id') }, { transaction });
        expect(await hit(() => q(transaction))).to.equal(true);
      });
    });
  });
});
