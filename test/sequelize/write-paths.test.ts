/**
 * Every Sequelize write path of DESIGN §5, on SQLite and PostgreSQL, with the memory and the Redis
 * backend. Each case caches entries that the write must invalidate and entries it must leave alone.
 */
import { expect } from 'chai';
import { QueryTypes, Op } from 'sequelize';
import { matching, PrequeryError } from '../../lib/index.js';
import { related } from '../../lib/sequelize/index.js';
import { call, matrix, seed } from './support.js';

matrix('create and save (new)', (env) => {
  it('Model.create invalidates the table and the new row\'s conjunctions, nothing else', async () => {
    const { Post, Author, Tag } = env.models;
    const { a1, a2, p2 } = await seed(env);
    await env.cache({
      posts: [Post], a1posts: [related(a1, 'posts')], drafts: [matching(Post, { status: 'draft' })],
      a2posts: [related(a2, 'posts')], published: [matching(Post, { status: 'published' })], p2: [p2], authors: [Author], tags: [Tag],
    });
    await Post.create({ title: 'new', authorId: a1.get('id') });
    await env.expectCache({ gone: ['posts', 'a1posts', 'drafts'], kept: ['a2posts', 'published', 'p2', 'authors', 'tags'] });
  });

  it('build().save() of a new row behaves like create', async () => {
    const { Post } = env.models;
    const { a1, a2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], byTitle: [matching(Post, { title: 'fresh' })], other: [matching(Post, { title: 'p1' })] });
    await Post.build({ title: 'fresh', authorId: a1.get('id') }).save();
    await env.expectCache({ gone: ['a1posts', 'byTitle'], kept: ['a2posts', 'other'] });
  });

  it('a create on an unscoped or scoped model (a subclass) is seen the same way', async () => {
    const { Post } = env.models;
    const { a1, a2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')] });
    await Post.unscoped().create({ title: 'u', authorId: a1.get('id') });
    await env.expectCache({ gone: ['a1posts'], kept: ['a2posts'] });
    await env.cache({ a1posts: [related(a1, 'posts')] });
    await Post.scope('published').create({ title: 's', authorId: a2.get('id') });
    await env.expectCache({ gone: ['a2posts'], kept: ['a1posts'] });
  });

  it('findOrCreate and findCreateFind (their own transaction on PostgreSQL) invalidate once created', async () => {
    const { Post } = env.models;
    const { a1, a2, a3 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')] });
    const [, created] = await Post.findOrCreate({ where: { title: 'foc' }, defaults: { authorId: a1.get('id') } });
    expect(created).to.equal(true);
    await env.expectCache({ gone: ['a1posts'], kept: ['a2posts', 'a3posts'] });
    await env.cache({ a1posts: [related(a1, 'posts')] });
    const [, again] = await Post.findOrCreate({ where: { title: 'foc' }, defaults: { authorId: a2.get('id') } });
    expect(again).to.equal(false);
    await env.expectCache({ kept: ['a1posts', 'a2posts', 'a3posts'] });
    await Post.findCreateFind({ where: { title: 'fcf' }, defaults: { authorId: a3.get('id') } });
    await env.expectCache({ gone: ['a3posts'], kept: ['a1posts', 'a2posts'] });
  });

  it('hasMany create (author.createPost) invalidates that author\'s posts only', async () => {
    const { a1, a2, p1 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], p1: [p1] });
    await call(a1, 'createPost', { title: 'via association' });
    await env.expectCache({ gone: ['a1posts'], kept: ['a2posts', 'p1'] });
  });

  it('hasOne create (author.createProfile) invalidates that author\'s profile, and the old one\'s owner', async () => {
    const { a1, a2, a3 } = await seed(env);
    await env.cache({ a1profile: [related(a1, 'profile')], a2profile: [related(a2, 'profile')], a3profile: [related(a3, 'profile')] });
    await call(a3, 'createProfile', { bio: 'new' });
    await env.expectCache({ gone: ['a3profile'], kept: ['a1profile', 'a2profile'] });
  });

  it('belongsToMany create (post.createTag) invalidates the post\'s tag membership', async () => {
    const { Tag } = env.models;
    const { p1, p2, t2 } = await seed(env);
    await env.cache({ p1tags: [related(p1, 'tags')], p2tags: [related(p2, 'tags')], t2posts: [related(t2, 'posts')], tags: [Tag] });
    await call(p1, 'createTag', { name: 'created' });
    await env.expectCache({ gone: ['p1tags', 'tags'], kept: ['p2tags', 't2posts'] });
  });

  it('belongsTo create (post.createAuthor) invalidates the post\'s author entry', async () => {
    const { p1, p2, a1 } = await seed(env);
    await env.cache({ p1author: [related(p1, 'author')], p2author: [related(p2, 'author')], a1posts: [related(a1, 'posts')] });
    await call(p1, 'createAuthor', { name: 'new author' });
    // p1 moved from a1 to the new author: a1's posts changed too.
    await env.expectCache({ gone: ['p1author', 'a1posts'], kept: ['p2author'] });
  });
});

matrix('update of an existing row', (env) => {
  it('instance.save() invalidates the row (old and new values) and its table, nothing else', async () => {
    const { Post, Author } = env.models;
    const { a1, a2, p1, p2 } = await seed(env);
    await env.cache({
      p1: [p1], a1posts: [related(a1, 'posts')], oldTitle: [matching(Post, { title: 'p1' })], newTitle: [matching(Post, { title: 'renamed' })], posts: [Post],
      p2: [p2], a2posts: [related(a2, 'posts')], otherTitle: [matching(Post, { title: 'p2' })], authors: [Author], a1: [a1],
    });
    p1.set('title', 'renamed');
    await p1.save();
    await env.expectCache({ gone: ['p1', 'a1posts', 'oldTitle', 'newTitle', 'posts'], kept: ['p2', 'a2posts', 'otherTitle', 'authors', 'a1'] });
  });

  it('a foreign key move (instance.update) invalidates both parents\' related() entries', async () => {
    const { a1, a2, a3, p1 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')], p1author: [related(p1, 'author')] });
    await p1.update({ authorId: a2.get('id') });
    await env.expectCache({ gone: ['a1posts', 'a2posts', 'p1author'], kept: ['a3posts'] });
  });

  it('an instance loaded with some attributes only still invalidates exactly what it must', async () => {
    const { Post } = env.models;
    const { a1, a2, p1, p2 } = await seed(env);
    const partial = (await Post.findByPk(p1.get('id') as number, { attributes: ['id', 'title'] }))!;
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2], a2posts: [related(a2, 'posts')] });
    await partial.update({ title: 'partial' });
    // authorId was not loaded: the authorId scheme falls back to all of its entries, the id scheme stays exact.
    await env.expectCache({ gone: ['p1', 'a1posts', 'a2posts'], kept: ['p2'] });
  });

  it('save({ fields }) only counts the saved fields as new values', async () => {
    const { Post } = env.models;
    const { a1, a2, p1 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], t: [matching(Post, { title: 'only title' })] });
    p1.set({ title: 'only title', authorId: a2.get('id') });
    await p1.save({ fields: ['title'] });
    // authorId was not saved: the row still belongs to a1.
    await env.expectCache({ gone: ['a1posts', 't'], kept: ['a2posts'] });
  });

  it('changing a referenced key invalidates the tables the database updates (ON UPDATE CASCADE)', async () => {
    const { Post, Tag, Author } = env.models;
    const { a1, a2, p2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], p2: [p2], a2: [a2], tags: [Tag], a1: [a1] });
    await Author.update({ id: 999 }, { where: { id: a1.get('id') } });
    expect(await Post.count({ where: { authorId: 999 } })).to.equal(1);
    await env.expectCache({ gone: ['a1posts', 'p2', 'a1'], kept: ['a2', 'tags'] });
  });

  it('composite primary keys: the instance entry is its row', async () => {
    const { Membership } = env.models;
    const m1 = await Membership.create({ userId: 1, groupId: 1 });
    const m2 = await Membership.create({ userId: 1, groupId: 2 });
    const m3 = await Membership.create({ userId: 2, groupId: 1 });
    await env.cache({ m1: [m1], m2: [m2], m3: [m3], user1: [matching(Membership, { userId: 1 })], admins: [matching(Membership, { role: 'admin' })], user2: [matching(Membership, { userId: 2 })] });
    await m1.update({ role: 'admin' });
    await env.expectCache({ gone: ['m1', 'user1', 'admins'], kept: ['m2', 'm3', 'user2'] });
  });
});

matrix('instance destroy and restore', (env) => {
  it('instance.destroy() (hard) invalidates the row and the rows the database changes through its foreign keys', async () => {
    const { Post, Tag, Author } = env.models;
    const { a1, a2, p1, p2 } = await seed(env);
    await env.cache({
      p1: [p1], a1posts: [related(a1, 'posts')], p1tags: [related(p1, 'tags')],
      p2: [p2], a2posts: [related(a2, 'posts')], tags: [Tag], authors: [Author], draft: [matching(Post, { status: 'published' })],
    });
    await p1.destroy();
    // post_tags rows of p1 are deleted by ON DELETE CASCADE: the join table is invalidated as a whole.
    await env.expectCache({ gone: ['p1', 'a1posts', 'p1tags'], kept: ['p2', 'a2posts', 'tags', 'authors', 'draft'] });
  });

  it('paranoid destroy and restore invalidate the row exactly (no whole-table fallback)', async () => {
    const { Comment } = env.models;
    const { p1, p2, c1, c2 } = await seed(env);
    await env.cache({ c1: [c1], p1comments: [related(p1, 'comments')], c2: [c2], p2comments: [related(p2, 'comments')] });
    await c1.destroy();
    expect(await Comment.count()).to.equal(1);
    await env.expectCache({ gone: ['c1', 'p1comments'], kept: ['c2', 'p2comments'] });
    await env.cache({ c1: [c1], p1comments: [related(p1, 'comments')] });
    await c1.restore();
    expect(await Comment.count()).to.equal(2);
    await env.expectCache({ gone: ['c1', 'p1comments'], kept: ['c2', 'p2comments'] });
  });

  it('paranoid destroy({ force: true }) invalidates the row', async () => {
    const { Comment } = env.models;
    const { p1, p2, c1, c2 } = await seed(env);
    await env.cache({ c1: [c1], p1comments: [related(p1, 'comments')], c2: [c2], p2comments: [related(p2, 'comments')] });
    await c1.destroy({ force: true });
    expect(await Comment.count({ paranoid: false })).to.equal(1);
    await env.expectCache({ gone: ['c1', 'p1comments'], kept: ['c2', 'p2comments'] });
  });

  it('a hard destroy of a parent invalidates the children the database sets to NULL', async () => {
    const { Post, Tag } = env.models;
    const { a1, p2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], p2: [p2], orphans: [matching(Post, { authorId: null })], tags: [Tag] });
    await a1.destroy();
    const orphan = await Post.findOne({ where: { title: 'p1' } });
    expect(orphan?.get('authorId')).to.equal(null);
    // ON DELETE SET NULL on posts.author_id: posts changed without hooks, invalidated as a table.
    await env.expectCache({ gone: ['a1posts', 'p2', 'orphans'], kept: ['tags'] });
  });
});

matrix('bulkCreate', (env) => {
  it('plain bulkCreate invalidates the inserted rows\' conjunctions only', async () => {
    const { Post, Author } = env.models;
    const { a1, a2, a3, p2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a3posts: [related(a3, 'posts')], a2posts: [related(a2, 'posts')], p2: [p2], authors: [Author] });
    await Post.bulkCreate([{ title: 'b1', authorId: a1.get('id') }, { title: 'b2', authorId: a3.get('id') }]);
    await env.expectCache({ gone: ['a1posts', 'a3posts'], kept: ['a2posts', 'p2', 'authors'] });
  });

  it('ignoreDuplicates: the inserted rows are invalidated, the skipped and the other rows are not', async () => {
    const { Item } = env.models;
    const i1 = await Item.create({ sku: 'a', active: true });
    const i2 = await Item.create({ sku: 'b', active: true });
    await env.cache({ skuC: [matching(Item, { sku: 'c' })], inactive: [matching(Item, { active: false })], skuB: [matching(Item, { sku: 'b' })], i2: [i2], i1: [i1] });
    await Item.bulkCreate([{ sku: 'a', active: false }, { sku: 'c', active: false }], { ignoreDuplicates: true });
    expect((await Item.findOne({ where: { sku: 'a' } }))!.get('active')).to.equal(true);
    // On SQLite the new row's id is unknown (Sequelize reports wrong ids): the id scheme falls back.
    const idScheme = env.dialect === 'postgres' ? { kept: ['i1', 'i2'] } : { gone: ['i1', 'i2'] };
    await env.expectCache({ gone: ['skuC', 'inactive', ...(idScheme.gone ?? [])], kept: ['skuB', ...(idScheme.kept ?? [])] });
  });

  it('ignoreDuplicates with explicit primary keys is exact on both dialects', async () => {
    const { Membership } = env.models;
    const m1 = await Membership.create({ userId: 1, groupId: 1 });
    const m2 = await Membership.create({ userId: 1, groupId: 2 });
    await env.cache({ m1: [m1], m2: [m2], group3: [matching(Membership, { groupId: 3 })], group2: [matching(Membership, { groupId: 2 })] });
    await Membership.bulkCreate([{ userId: 1, groupId: 1, role: 'x' }, { userId: 5, groupId: 3 }], { ignoreDuplicates: true });
    await env.expectCache({ gone: ['group3'], kept: ['m2', 'group2'] });
  });

  it('updateOnDuplicate: the updated rows\' old and new values are invalidated', async () => {
    const { Item } = env.models;
    const i1 = await Item.create({ sku: 'a', active: true });
    const i2 = await Item.create({ sku: 'b', active: true });
    const i3 = await Item.create({ sku: 'c', active: false });
    await env.cache({ i1: [i1], active: [matching(Item, { active: true })], inactive: [matching(Item, { active: false })], skuA: [matching(Item, { sku: 'a' })], skuNew: [matching(Item, { sku: 'new' })], skuB: [matching(Item, { sku: 'b' })], i2: [i2], i3: [i3] });
    await Item.bulkCreate([{ sku: 'a', active: false }, { sku: 'new', active: true }], { updateOnDuplicate: ['active'] });
    expect((await Item.findOne({ where: { sku: 'a' } }))!.get('active')).to.equal(false);
    const idScheme = env.dialect === 'postgres' ? { kept: ['i2', 'i3'] } : { gone: ['i2', 'i3'] };
    await env.expectCache({ gone: ['i1', 'active', 'inactive', 'skuA', 'skuNew', ...(idScheme.gone ?? [])], kept: ['skuB', ...(idScheme.kept ?? [])] });
  });

  it('updateOnDuplicate moving a child between parents invalidates both parents', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p1 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')] });
    await Post.bulkCreate([{ id: p1.get('id'), title: 'p1', authorId: a2.get('id') }], { updateOnDuplicate: ['authorId'] });
    expect((await Post.findByPk(p1.get('id') as number))!.get('authorId')).to.equal(a2.get('id'));
    await env.expectCache({ gone: ['a1posts', 'a2posts'], kept: ['a3posts'] });
  });

  it('bulkCreate with individualHooks goes through the create hooks once per row', async () => {
    const { Post } = env.models;
    const { a1, a2, p2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], p2: [p2] });
    await Post.bulkCreate([{ title: 'x', authorId: a1.get('id') }], { individualHooks: true });
    await env.expectCache({ gone: ['a1posts'], kept: ['a2posts', 'p2'] });
  });

  it('belongsToMany through rows created by bulkCreate carry exact keys', async () => {
    const { PostTag } = env.models;
    const { p1, p2, p3, t1, t2 } = await seed(env);
    await env.cache({ p3tags: [related(p3, 'tags')], t1posts: [related(t1, 'posts')], p2tags: [related(p2, 'tags')], p1tags: [related(p1, 'tags')], t2posts: [related(t2, 'posts')] });
    await PostTag.bulkCreate([{ postId: p3.get('id'), tagId: t1.get('id') }]);
    await env.expectCache({ gone: ['p3tags', 't1posts'], kept: ['p2tags', 'p1tags', 't2posts'] });
  });
});

matrix('Model.update / destroy / restore with a where', (env) => {
  it('Model.update invalidates exactly the rows it touched (old and new values)', async () => {
    const { Post, Author } = env.models;
    const { a1, a2, p1, p2, p3 } = await seed(env);
    await env.cache({
      p1: [p1], a1posts: [related(a1, 'posts')], published: [matching(Post, { status: 'published' })], drafts: [matching(Post, { status: 'draft' })],
      p2: [p2], p3: [p3], a2posts: [related(a2, 'posts')], authors: [Author], archived: [matching(Post, { status: 'archived' })],
    });
    const [count] = await Post.update({ status: 'published' }, { where: { title: 'p1' } });
    expect(count).to.equal(1);
    await env.expectCache({ gone: ['p1', 'a1posts', 'published', 'drafts'], kept: ['p2', 'p3', 'a2posts', 'authors', 'archived'] });
  });

  it('Model.update over many rows reads only the columns the schemes in use and the keys need, and stays exact', async () => {
    const { Post } = env.models;
    const { a1, a2, p1, p2, p3 } = await seed(env);
    await env.cache({ p1: [p1], p2: [p2], p3: [p3], a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], drafts: [matching(Post, { status: 'draft' })] });
    const queries: string[] = [];
    await Post.update({ views: 9 }, { where: { authorId: a1.get('id') }, logging: (sql: string) => queries.push(sql) });
    const read = queries.find((q) => /SELECT/i.test(q) && /FROM\s+["`]posts["`]/i.test(q));
    const q = (name: string) => env.sequelize.getQueryInterface().quoteIdentifier(name);
    expect(read, 'the locked read').to.be.a('string');
    for (const column of ['id', 'status', 'author_id']) expect(read).to.include(q(column));
    for (const column of ['title', 'views', 'createdAt']) expect(read).not.to.include(q(column));
    await env.expectCache({ gone: ['p1', 'a1posts', 'drafts'], kept: ['p2', 'p3', 'a2posts'] });
  });

  it('Model.update moving rows between parents invalidates both parents', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')], p2: [p2] });
    await Post.update({ authorId: a2.get('id') }, { where: { authorId: a1.get('id') } });
    await env.expectCache({ gone: ['a1posts', 'a2posts'], kept: ['a3posts', 'p2'] });
  });

  it('Model.update with operators and a SQL expression value', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p1, p2, p3 } = await seed(env);
    await env.cache({ p1: [p1], p2: [p2], a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], p3: [p3], a3posts: [related(a3, 'posts')], views: [matching(Post, { views: 5 })] });
    await Post.update({ views: env.sequelize.literal('views + 5') }, { where: { title: { [Op.in]: ['p1', 'p2'] } } });
    // views gets a value only the database knows: entries on the views scheme fall back; the others are exact.
    await env.expectCache({ gone: ['p1', 'p2', 'a1posts', 'a2posts', 'views'], kept: ['p3', 'a3posts'] });
  });

  it('Model.update through a scope only touches the scoped rows', async () => {
    const { Post } = env.models;
    const { p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], p2: [p2] });
    await Post.scope('published').update({ title: 'scoped' }, { where: {} });
    await env.expectCache({ gone: ['p2'], kept: ['p1'] });
  });

  it('Model.update inside a transaction pre-queries in that transaction', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p1 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')] });
    await env.sequelize.transaction(async (transaction) => {
      await p1.update({ authorId: a3.get('id') }, { transaction }); // the pre-query must see this uncommitted move
      await Post.update({ authorId: a2.get('id') }, { where: { id: p1.get('id') }, transaction });
    });
    await env.expectCache({ gone: ['a1posts', 'a2posts', 'a3posts'] });
    await env.cache({ a1posts: [related(a1, 'posts')], a3posts: [related(a3, 'posts')] });
    await Post.update({ title: 'again' }, { where: { id: p1.get('id') } });
    await env.expectCache({ kept: ['a1posts', 'a3posts'] });
  });

  it('Model.destroy invalidates the deleted rows only (and the join rows the database cascades)', async () => {
    const { Post, Author } = env.models;
    const { a1, a2, p1, p2, p3 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p1tags: [related(p1, 'tags')], p2: [p2], p3: [p3], a2posts: [related(a2, 'posts')], authors: [Author] });
    await Post.destroy({ where: { title: 'p1' } });
    await env.expectCache({ gone: ['p1', 'a1posts', 'p1tags'], kept: ['p2', 'p3', 'a2posts', 'authors'] });
  });

  it('paranoid Model.destroy and Model.restore invalidate the affected rows only', async () => {
    const { Comment } = env.models;
    const { p1, p2, c1, c2 } = await seed(env);
    await env.cache({ c1: [c1], p1comments: [related(p1, 'comments')], c2: [c2], p2comments: [related(p2, 'comments')] });
    await Comment.destroy({ where: { postId: p1.get('id') } });
    await env.expectCache({ gone: ['c1', 'p1comments'], kept: ['c2', 'p2comments'] });
    await env.cache({ c1: [c1], p1comments: [related(p1, 'comments')] });
    await Comment.restore({ where: { postId: p1.get('id') } });
    expect(await Comment.count()).to.equal(2);
    await env.expectCache({ gone: ['c1', 'p1comments'], kept: ['c2', 'p2comments'] });
  });

  it('Model.destroy with individualHooks uses the instance hooks', async () => {
    const { Comment } = env.models;
    const { p1, p2, c1, c2 } = await seed(env);
    await env.cache({ c1: [c1], p1comments: [related(p1, 'comments')], c2: [c2], p2comments: [related(p2, 'comments')] });
    await Comment.destroy({ where: { id: c1.get('id') }, individualHooks: true });
    await env.expectCache({ gone: ['c1', 'p1comments'], kept: ['c2', 'p2comments'] });
  });

  it('Model.restore with individualHooks: the restored rows join the not-deleted set', async () => {
    const { Comment } = env.models;
    const { p1, p2, c1, c2 } = await seed(env);
    await c1.destroy();
    await env.cache({ live1: [matching(Comment, { postId: p1.get('id'), deletedAt: null })], c1: [c1], live2: [matching(Comment, { postId: p2.get('id'), deletedAt: null })], c2: [c2] });
    await Comment.restore({ where: { id: c1.get('id') }, individualHooks: true });
    await env.expectCache({ gone: ['live1', 'c1'], kept: ['live2', 'c2'] });
  });

  it('Model.update with individualHooks uses the instance hooks (same and different changes)', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p1, p2, p3 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], a3posts: [related(a3, 'posts')], p2: [p2], a2posts: [related(a2, 'posts')], p3: [p3] });
    await Post.update({ authorId: a3.get('id') }, { where: { id: p1.get('id') }, individualHooks: true });
    await env.expectCache({ gone: ['p1', 'a1posts', 'a3posts'], kept: ['p2', 'a2posts', 'p3'] });
    // A beforeUpdate hook that makes the rows differ: Sequelize saves them one by one with hooks off.
    env.models.Post.addHook('beforeUpdate', 'differ', (instance: { set(k: string, v: unknown): void; get(k: string): unknown }) => {
      instance.set('title', `${String(instance.get('title'))}!`);
    });
    try {
      await env.cache({ a1posts: [related(a1, 'posts')], a3posts: [related(a3, 'posts')], p1: [p1], p2: [p2], a2posts: [related(a2, 'posts')] });
      await Post.update({ views: 1 }, { where: { id: [p1.get('id'), p3.get('id')] }, individualHooks: true });
      await env.expectCache({ gone: ['a3posts', 'p1'], kept: ['a1posts', 'p2', 'a2posts'] });
    } finally {
      env.models.Post.removeHook('beforeUpdate', 'differ');
    }
  });

  it('over the pre-query cap, the whole table is invalidated', async () => {
    env.hooks.unregister();
    const { registerSequelizeHooks } = await import('../../lib/sequelize/index.js');
    env.hooks = registerSequelizeHooks(env.sequelize, env.keyv, { prequeryLimit: 2 });
    const { Post, Author } = env.models;
    const { a1, a2, p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], authors: [Author], a1: [a1] });
    await Post.update({ title: 'one row' }, { where: { id: p2.get('id') } });
    await env.expectCache({ kept: ['p1', 'a1posts', 'authors', 'a1'] });
    await env.cache({ p2: [p2], a2posts: [related(a2, 'posts')] });
    await Post.update({ views: 3 }, { where: {} }); // 3 rows > 2
    await env.expectCache({ gone: ['p1', 'a1posts', 'p2', 'a2posts'], kept: ['authors', 'a1'] });
  });

  it('over the cap (or with prequeryLimit: 0), what the where pins by equality stays exact', async () => {
    env.hooks.unregister();
    const { registerSequelizeHooks } = await import('../../lib/sequelize/index.js');
    env.hooks = registerSequelizeHooks(env.sequelize, env.keyv, { prequeryLimit: 0 });
    const { Post, Comment } = env.models;
    const { a1, a2, p1, p2, c1, c2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], p1: [p1], p2: [p2], a2posts: [related(a2, 'posts')], published: [matching(Post, { status: 'published' })], a1: [a1] });
    await Post.update({ title: 'unknown rows' }, { where: { authorId: a1.get('id') } });
    // Rows unknown: the authorId scheme is exact (pinned by the where); the id and status schemes fall back.
    await env.expectCache({ gone: ['a1posts', 'p1', 'p2', 'published'], kept: ['a2posts', 'a1'] });
    await env.cache({ p1comments: [related(p1, 'comments')], c1: [c1], p2comments: [related(p2, 'comments')] });
    await Comment.destroy({ where: { postId: p1.get('id') } });
    await env.expectCache({ gone: ['p1comments', 'c1'], kept: ['p2comments', 'a2posts'] });
    await env.cache({ p1comments: [related(p1, 'comments')], c2: [c2] });
    await Comment.restore({ where: { postId: p1.get('id') } });
    await env.expectCache({ gone: ['p1comments', 'c2'], kept: ['p2comments', 'a2posts'] });
  });

  it('a pre-query inside a savepoint of the user leaves the user\'s rollback to it whole', async () => {
    const { Post } = env.models;
    const { p1, p2 } = await seed(env);
    await env.sequelize.transaction(async (outer) => {
      await env.sequelize.transaction({ transaction: outer }, async (savepoint) => {
        await p1.update({ title: 'undone' }, { transaction: savepoint });
        await Post.update({ views: 9 }, { where: { id: p2.get('id') }, transaction: savepoint }); // pre-queried
        await savepoint.rollback();
      }).catch(() => undefined);
      const [rows] = await env.sequelize.query(`SELECT title FROM ${env.sequelize.getQueryInterface().quoteIdentifier('posts')} WHERE id = ${Number(p1.get('id'))}`, { transaction: outer });
      expect(rows).to.deep.equal([{ title: 'p1' }]);
    });
    expect((await Post.findByPk(p1.get('id') as number))!.get('title')).to.equal('p1');
    expect((await Post.findByPk(p2.get('id') as number))!.get('views')).to.not.equal(9);
  });

  it('a pre-query that fails inside a transaction does not break it: the write and the commit go through', async () => {
    const { Post, Author } = env.models;
    const { p1, p2, a1 } = await seed(env);
    await env.cache({ p1: [p1], p2: [p2], a1: [a1], authors: [Author] });
    const qi = (name: string) => env.sequelize.getQueryInterface().quoteIdentifier(name);
    await env.sequelize.transaction(async (transaction) => {
      const [updated] = await Post.update({ title: 'x' }, { where: env.sequelize.literal(`${qi('posts')}.${qi('id')} = ${Number(p1.get('id'))}`), transaction });
      expect(updated).to.equal(1);
      await Post.update({ title: 'y' }, { where: { id: p2.get('id') }, transaction }); // the transaction still works
      await env.expectCache({ kept: ['p1', 'p2', 'a1', 'authors'] });
    });
    expect(env.errors.map((e) => e.constructor.name)).to.deep.equal(['PrequeryError']);
    env.errors.length = 0;
    expect((await Post.findByPk(p1.get('id') as number))!.get('title')).to.equal('x');
    await env.expectCache({ gone: ['p1', 'p2'], kept: ['a1', 'authors'] });
  });

  it('a pre-query that fails emits a PrequeryError; the write goes through and invalidates the whole table', async () => {
    const { Post, Author } = env.models;
    const { p1, p2, a1 } = await seed(env);
    await env.cache({ p1: [p1], p2: [p2], a1: [a1], authors: [Author] });
    // Valid in the UPDATE, which names the table; not in the pre-query's SELECT, which aliases it.
    const qi = (name: string) => env.sequelize.getQueryInterface().quoteIdentifier(name);
    const [updated] = await Post.update({ title: 'x' }, { where: env.sequelize.literal(`${qi('posts')}.${qi('id')} = ${Number(p1.get('id'))}`) });
    expect(updated).to.equal(1);
    expect(env.errors).to.have.length(1);
    expect(env.errors[0]).to.be.instanceOf(PrequeryError).and.to.include({ model: 'Post' });
    expect(env.errors[0]!.message).to.match(/^keyv-clever: could not read the rows a write to Post changes \(the whole table will be invalidated\): /);
    expect((env.errors[0] as PrequeryError).cause).to.be.instanceOf(Error);
    env.errors.length = 0;
    await env.expectCache({ gone: ['p1', 'p2'], kept: ['a1', 'authors'] });
  });
});

matrix('associations', (env) => {
  it('hasMany add moves the child: both parents are invalidated', async () => {
    const { a1, a2, a3, p1, p2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')], p2: [p2] });
    await call(a2, 'addPost', p1);
    await env.expectCache({ gone: ['a1posts', 'a2posts'], kept: ['a3posts', 'p2'] });
  });

  it('hasMany remove and set', async () => {
    const { a1, a2, a3, p1, p2, p3 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')], p3: [p3] });
    await call(a1, 'removePost', p1);
    await env.expectCache({ gone: ['a1posts'], kept: ['a2posts', 'a3posts', 'p3'] });
    await env.cache({ a1posts: [related(a1, 'posts')] });
    await call(a2, 'setPosts', [p1]); // p2 leaves a2, p1 (no author) joins
    await env.expectCache({ gone: ['a2posts'], kept: ['a1posts', 'a3posts', 'p3'] });
    expect((await p2.reload()).get('authorId')).to.equal(null);
  });

  it('belongsToMany add / remove / set change the membership of that post only', async () => {
    const { p1, p2, p3, t1, t2 } = await seed(env);
    await env.cache({ p1tags: [related(p1, 'tags')], t2posts: [related(t2, 'posts')], p2tags: [related(p2, 'tags')], p3tags: [related(p3, 'tags')], t1posts: [related(t1, 'posts')] });
    await call(p1, 'addTag', t2);
    await env.expectCache({ gone: ['p1tags', 't2posts'], kept: ['p2tags', 'p3tags', 't1posts'] });
    await env.cache({ p1tags: [related(p1, 'tags')], t2posts: [related(t2, 'posts')] });
    await call(p1, 'removeTag', t1);
    await env.expectCache({ gone: ['p1tags', 't1posts'], kept: ['t2posts', 'p2tags', 'p3tags'] });
    await env.cache({ p1tags: [related(p1, 'tags')], t1posts: [related(t1, 'posts')] });
    await call(p3, 'setTags', [t1]);
    await env.expectCache({ gone: ['p3tags', 't1posts'], kept: ['p1tags', 't2posts', 'p2tags'] });
  });

  it('belongsToMany set with through attributes updates the join rows', async () => {
    const { p1, p2, t1 } = await seed(env);
    await env.cache({ p1tags: [related(p1, 'tags')], p2tags: [related(p2, 'tags')] });
    await call(p1, 'setTags', [t1], { through: { weight: 5 } });
    await env.expectCache({ gone: ['p1tags'], kept: ['p2tags'] });
  });

  it('belongsTo set invalidates the old and the new parent and the child', async () => {
    const { a1, a2, a3, p1, p2 } = await seed(env);
    await env.cache({ p1author: [related(p1, 'author')], a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], p2author: [related(p2, 'author')], a3posts: [related(a3, 'posts')] });
    await call(p1, 'setAuthor', a2);
    await env.expectCache({ gone: ['p1author', 'a1posts', 'a2posts'], kept: ['p2author', 'a3posts'] });
  });

  it('hasOne set moves the profile: both owners are invalidated', async () => {
    const { a1, a2, a3, pr2 } = await seed(env);
    await env.cache({ a1profile: [related(a1, 'profile')], a2profile: [related(a2, 'profile')], a3profile: [related(a3, 'profile')] });
    await call(a3, 'setProfile', pr2);
    await env.expectCache({ gone: ['a2profile', 'a3profile'], kept: ['a1profile'] });
  });

  it('editing a target row invalidates hasMany / belongsTo entries that read it', async () => {
    const { a1, a2, p1, p2 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], p1author: [related(p1, 'author')], a2posts: [related(a2, 'posts')], p2author: [related(p2, 'author')] });
    await p1.update({ title: 'edited' });
    await env.expectCache({ gone: ['a1posts', 'p1author'], kept: ['a2posts', 'p2author'] });
    await env.cache({ a1posts: [related(a1, 'posts')], p1author: [related(p1, 'author')] });
    await a1.update({ name: 'renamed' });
    await env.expectCache({ gone: ['p1author'], kept: ['a1posts', 'a2posts', 'p2author'] });
  });
});

matrix('upsert', (env) => {
  it('upsert of an existing row invalidates its old and new values', async () => {
    const { Item } = env.models;
    const i1 = await Item.create({ sku: 'a', active: true, price: '1.50' });
    const i2 = await Item.create({ sku: 'b', active: true });
    await env.cache({ i1: [i1], skuA: [matching(Item, { sku: 'a' })], active: [matching(Item, { active: true })], inactive: [matching(Item, { active: false })], i2: [i2], skuB: [matching(Item, { sku: 'b' })] });
    await Item.upsert({ sku: 'a', active: false });
    expect((await Item.findOne({ where: { sku: 'a' } }))!.get('active')).to.equal(false);
    await env.expectCache({ gone: ['i1', 'skuA', 'active', 'inactive'], kept: ['i2', 'skuB'] });
  });

  it('upsert of a new row invalidates its values', async () => {
    const { Item } = env.models;
    const i1 = await Item.create({ sku: 'a', active: true });
    await env.cache({ skuN: [matching(Item, { sku: 'n' })], skuA: [matching(Item, { sku: 'a' })], i1: [i1] });
    await Item.upsert({ sku: 'n', active: false });
    const idScheme = env.dialect === 'postgres' ? { kept: ['i1'] } : { gone: ['i1'] };
    await env.expectCache({ gone: ['skuN', ...(idScheme.gone ?? [])], kept: ['skuA', ...(idScheme.kept ?? [])] });
  });

  it('upsert by primary key moving a child invalidates both parents', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p1 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')], p1: [p1] });
    await Post.upsert({ id: p1.get('id'), title: 'p1', authorId: a2.get('id') });
    await env.expectCache({ gone: ['a1posts', 'a2posts', 'p1'], kept: ['a3posts'] });
  });
});

matrix('hookless writes (the afterQuery safety net)', (env) => {
  it('instance.increment / decrement invalidate the whole table', async () => {
    const { Post, Author } = env.models;
    const { a1, p1, p2 } = await seed(env);
    await env.cache({ p2: [p2], a1posts: [related(a1, 'posts')], authors: [Author], a1: [a1] });
    await p1.increment('views');
    await env.expectCache({ gone: ['p2', 'a1posts'], kept: ['authors', 'a1'] });
    await env.cache({ p2: [p2] });
    await Post.decrement('views', { where: { id: p1.get('id') } });
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
  });

  it('writes with hooks: false invalidate the whole table', async () => {
    const { Post, Author } = env.models;
    const { a1, p1, p2 } = await seed(env);
    await env.cache({ p2: [p2], authors: [Author], a1: [a1] });
    await p1.update({ title: 'no hooks' }, { hooks: false });
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
    await env.cache({ p2: [p2] });
    await Post.update({ title: 'x' }, { where: { id: p1.get('id') }, hooks: false });
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
    await env.cache({ p2: [p2] });
    await Post.create({ title: 'y' }, { hooks: false });
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
    await env.cache({ p2: [p2] });
    await Post.destroy({ where: { id: p1.get('id') }, hooks: false });
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
  });

  it('queryInterface bulkInsert / bulkUpdate / bulkDelete invalidate the whole table', async () => {
    const { Author } = env.models;
    const { a1, p2 } = await seed(env);
    const qi = env.sequelize.getQueryInterface();
    await env.cache({ p2: [p2], authors: [Author], a1: [a1] });
    await qi.bulkInsert('posts', [{ title: 'qi', status: 'draft', views: 0, createdAt: new Date(), updatedAt: new Date() }]);
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
    await env.cache({ p2: [p2] });
    await qi.bulkUpdate('posts', { title: 'qi2' }, { title: 'qi' });
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
    await env.cache({ p2: [p2] });
    await qi.bulkDelete('posts', { title: 'qi2' });
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
  });

  it('truncate invalidates the whole table (and, with cascade, the referencing tables)', async () => {
    const { Comment, Author, Tag } = env.models;
    const { a1, p1, c2 } = await seed(env);
    await env.cache({ c2: [c2], p1comments: [related(p1, 'comments')], authors: [Author], a1: [a1], tags: [Tag] });
    await Comment.truncate();
    await env.expectCache({ gone: ['c2', 'p1comments'], kept: ['authors', 'a1', 'tags'] });
  });

  it('truncate with cascade invalidates the tables the database empties with it', async () => {
    const { Post, Author, Tag } = env.models;
    const { a1, p1, t1 } = await seed(env);
    await env.cache({ p1: [p1], p1tags: [related(p1, 'tags')], t1posts: [related(t1, 'posts')], p1comments: [related(p1, 'comments')], authors: [Author], a1: [a1], tags: [Tag] });
    if (env.dialect === 'mariadb') {
      // MariaDB refuses to truncate a table other tables reference: nothing changed, nothing goes.
      await Post.truncate({ cascade: true }).then(() => expect.fail('MariaDB should refuse'), (error: Error) => expect(error.message).to.match(/foreign key/i));
      await env.expectCache({ kept: ['p1', 'p1tags', 't1posts', 'p1comments', 'authors', 'a1', 'tags'] });
      return;
    }
    // PostgreSQL: TRUNCATE … CASCADE empties post_tags and comments; SQLite: DELETE with ON DELETE actions.
    await Post.truncate({ cascade: true });
    expect(await Post.count()).to.equal(0);
    await env.expectCache({ gone: ['p1', 'p1tags', 't1posts', 'p1comments'], kept: ['authors', 'a1', 'tags'] });
  });

  it('raw SQL naming a model\'s table is invalidated as a whole table (best effort)', async () => {
    const { Author } = env.models;
    const { a1, p2 } = await seed(env);
    await env.cache({ p2: [p2], authors: [Author], a1: [a1] });
    await env.sequelize.query('UPDATE posts SET views = views + 1', { type: QueryTypes.UPDATE });
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
    await env.cache({ p2: [p2] });
    // Quoted the dialect's way (MariaDB reads "posts" as a string).
    const quoted = env.sequelize.getQueryInterface().quoteIdentifier('posts');
    await env.sequelize.query(`delete from ${quoted} where title = 'nothing'`);
    await env.expectCache({ gone: ['p2'], kept: ['authors', 'a1'] });
  });

  it('a write the safety net cannot see is invalidated by hand with store.invalidate', async () => {
    const { Post, Author } = env.models;
    const { a1, a2, p1, p2 } = await seed(env);
    // A write hidden behind a SELECT (a function call, a trigger): nothing to recognise.
    const hidden = env.dialect === 'postgres'
      ? 'SELECT 1 FROM (SELECT 1) AS x'
      : 'SELECT 1';
    await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2], a2posts: [related(a2, 'posts')], authors: [Author] });
    await env.sequelize.query(hidden);
    await env.expectCache({ kept: ['p1', 'a1posts', 'p2', 'a2posts', 'authors'] });
    expect(await env.store.invalidate(p1)).to.equal(2); // the row: p1 and a1's posts
    await env.expectCache({ gone: ['p1', 'a1posts'], kept: ['p2', 'a2posts', 'authors'] });
    expect(await env.store.invalidate(matching(Post, { authorId: a2.get('id') }))).to.equal(1);
    expect(await env.store.invalidate(Author)).to.equal(1);
    await env.expectCache({ gone: ['a2posts', 'authors'], kept: ['p2'] });
    expect(await env.store.invalidate(related(a2, 'posts'))).to.equal(0);
  });
});
