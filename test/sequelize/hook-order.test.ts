/**
 * The invalidation comes before any application code can look: every application hook on the
 * same write (model hooks, options hooks of define, global hooks; registered before or after
 * registerSequelizeHooks) and every afterCommit callback sees the cache already invalidated.
 */
import { expect } from 'chai';
import { DataTypes, type Model, type ModelStatic } from 'sequelize';
import { registerSequelizeHooks } from '../../lib/sequelize/index.js';
import { matrix, seed, unique } from './support.js';

matrix('application hooks run after the invalidation', (env) => {
  /** What each application hook saw in the cache: true when the entry was already gone. */
  let seen: Record<string, boolean>;
  const look = (label: string, key = 'entry') => async () => { seen[label] = (await env.keyv.get(key)) === undefined; };
  let Note: ModelStatic<Model>;
  before(async () => {
    // A model whose define options carry hooks, defined before any registration.
    Note = env.sequelize.define('Note', { text: DataTypes.STRING }, {
      tableName: unique('notes').toLowerCase(),
      hooks: { afterCreate: () => look('define afterCreate', 'notes')(), afterUpdate: () => look('define afterUpdate', 'notes')() },
    });
    await Note.sync();
  });
  beforeEach(() => { seen = {}; });

  it('model, define and global hooks of an instance write, registered before and after the hooks', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    env.hooks.unregister();
    Post.addHook('afterSave', 'app:before', look('model afterSave (before)'));
    Post.addHook('afterUpdate', 'app:before2', look('model afterUpdate (before)'));
    env.sequelize.addHook('afterUpdate', 'app:global', look('global afterUpdate (before)'));
    env.hooks = registerSequelizeHooks(env.sequelize, env.keyv);
    Post.addHook('afterSave', 'app:after', look('model afterSave (after)'));
    try {
      await env.cache({ entry: [p1] });
      await p1.update({ title: 'changed' });
      expect(seen).to.deep.equal({
        'model afterSave (before)': true, 'model afterUpdate (before)': true, 'global afterUpdate (before)': true, 'model afterSave (after)': true,
      });
    } finally {
      for (const name of ['app:before', 'app:after']) Post.removeHook('afterSave', name);
      Post.removeHook('afterUpdate', 'app:before2');
      env.sequelize.removeHook('afterUpdate', 'app:global');
    }
  });

  it('options hooks of define, for a model defined before and one defined after the registration', async () => {
    const note = await Note.create({ text: 'a' });
    await env.cache({ notes: [Note] });
    await note.update({ text: 'b' });
    await Note.create({ text: 'c' });
    const Later = env.sequelize.define('Later', { text: DataTypes.STRING }, {
      tableName: unique('later').toLowerCase(),
      hooks: { afterCreate: () => look('later afterCreate', 'later')() },
    });
    await Later.sync();
    await env.cache({ later: [Later] });
    await Later.create({ text: 'x' });
    expect(seen).to.deep.equal({ 'define afterUpdate': true, 'define afterCreate': true, 'later afterCreate': true });
  });

  it('bulk hooks of Model.update and Model.destroy', async () => {
    const { Post } = env.models;
    const { p1, p2 } = await seed(env);
    Post.addHook('afterBulkUpdate', 'app:bulk', look('afterBulkUpdate'));
    Post.addHook('afterBulkDestroy', 'app:bulkd', look('afterBulkDestroy', 'other'));
    try {
      await env.cache({ entry: [p1], other: [p2] });
      await Post.update({ title: 'bulk' }, { where: { id: p1.get('id') } });
      await Post.destroy({ where: { id: p2.get('id') } });
      expect(seen).to.deep.equal({ afterBulkUpdate: true, afterBulkDestroy: true });
    } finally {
      Post.removeHook('afterBulkUpdate', 'app:bulk');
      Post.removeHook('afterBulkDestroy', 'app:bulkd');
    }
  });

  it('afterCreate, afterDestroy and afterBulkCreate model hooks', async () => {
    const { Post } = env.models;
    const { a1, p2 } = await seed(env);
    Post.addHook('afterCreate', 'app:create', look('afterCreate', 'posts'));
    Post.addHook('afterDestroy', 'app:destroy', look('afterDestroy', 'entry'));
    Post.addHook('afterBulkCreate', 'app:bulkCreate', look('afterBulkCreate', 'posts'));
    try {
      await env.cache({ posts: [Post], entry: [p2] });
      await Post.create({ title: 'new', authorId: a1.get('id') });
      await env.cache({ posts: [Post] });
      await Post.bulkCreate([{ title: 'bulk', authorId: a1.get('id') }]);
      await p2.destroy();
      expect(seen).to.deep.equal({ afterCreate: true, afterBulkCreate: true, afterDestroy: true });
    } finally {
      Post.removeHook('afterCreate', 'app:create');
      Post.removeHook('afterDestroy', 'app:destroy');
      Post.removeHook('afterBulkCreate', 'app:bulkCreate');
    }
  });

  it('afterCommit callbacks, including one registered before the first write', async () => {
    const { p1 } = await seed(env);
    await env.cache({ entry: [p1] });
    await env.sequelize.transaction(async (transaction) => {
      transaction.afterCommit(look('afterCommit (early)'));
      await p1.update({ title: 'in tx' }, { transaction });
      transaction.afterCommit(look('afterCommit (late)'));
    });
    expect(seen).to.deep.equal({ 'afterCommit (early)': true, 'afterCommit (late)': true });
  });
});
