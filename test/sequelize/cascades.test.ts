/**
 * Rows the database changes by itself through foreign keys within one table (a category's
 * children, a comment's replies), or through foreign keys only the database knows (another
 * application's tables): their entries go with the write that cascaded into them.
 */
import { expect } from 'chai';
import { DataTypes, Sequelize, type Model, type ModelStatic, type Options } from 'sequelize';
import { ForeignKeyCatalogError, matching } from '../../lib/index.js';
import { registerSequelizeHooks, related } from '../../lib/sequelize/index.js';
import { matrix, unique } from './support.js';

matrix('foreign keys within one table', (env) => {
  let Category: ModelStatic<Model>;
  before(async () => {
    Category = env.sequelize.define('Category', { name: DataTypes.STRING }, { tableName: unique('categories').toLowerCase() });
    Category.hasMany(Category, { as: 'children', foreignKey: { name: 'parentId', allowNull: true }, onDelete: 'CASCADE', onUpdate: 'CASCADE' });
    Category.belongsTo(Category, { as: 'parent', foreignKey: { name: 'parentId', allowNull: true }, onDelete: 'CASCADE', onUpdate: 'CASCADE' });
    await Category.sync(); // in the block's own schema or database, dropped with it
    // SQLite enforces foreign keys (and so cascades) only when asked.
    if (env.dialect === 'sqlite') await env.sequelize.query('PRAGMA foreign_keys = ON');
  });

  it('a delete that cascades to child rows of the same table invalidates their entries', async () => {
    const root = await Category.create({ name: 'root' });
    const child = await Category.create({ name: 'child', parentId: root.get('id') });
    const grandchild = await Category.create({ name: 'grandchild', parentId: child.get('id') });
    const other = await Category.create({ name: 'other' });
    await env.cache({
      child: [child], grandchild: [grandchild], childKids: [related(child, 'children')],
      byName: [matching(Category, { name: 'grandchild' })], other: [other],
    });
    await root.destroy();
    await env.expectCache({ gone: ['child', 'grandchild', 'childKids', 'byName'] });
  });

  it('a key change that cascades to child rows of the same table invalidates their entries', async () => {
    const root = await Category.create({ name: 'root' });
    const child = await Category.create({ name: 'child', parentId: root.get('id') });
    await env.cache({ child: [child], rootKids: [related(root, 'children')], byParent: [matching(Category, { parentId: 4242 })] });
    const moved = Category.update({ id: 4242 }, { where: { id: root.get('id') } });
    if (env.dialect === 'mariadb') {
      // InnoDB refuses an ON UPDATE CASCADE that comes back to the table it updates.
      await moved.then(() => expect.fail('MariaDB should refuse'), (error: Error) => expect(error.message).to.match(/foreign key/i));
      await env.expectCache({ kept: ['child', 'rootKids', 'byParent'] });
      return;
    }
    await moved;
    expect((await Category.findByPk(child.get('id') as number))!.get('parentId')).to.equal(4242);
    await env.expectCache({ gone: ['child', 'rootKids', 'byParent'] });
  });
});

/** The config of `sequelize` without its models: a second application on the same database. */
function openOtherApplication(sequelize: Sequelize, options: Options = {}): Sequelize {
  const { database, username, password, host, port } = sequelize.config;
  const dialect = sequelize.getDialect() as 'sqlite' | 'postgres' | 'mariadb';
  if (dialect === 'sqlite') {
    // An in-memory SQLite database lives in one connection: the other application shares it.
    const other = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
    (other.connectionManager as unknown as { connections: unknown }).connections = (sequelize.connectionManager as unknown as { connections: unknown }).connections;
    return other;
  }
  return new Sequelize(database, username, password ?? undefined, {
    dialect, host, port: Number(port), logging: false, pool: { max: 2 },
    dialectOptions: (sequelize as unknown as { options: Options }).options.dialectOptions,
    ...options,
  });
}

async function closeOtherApplication(other: Sequelize | undefined): Promise<void> {
  if (!other) return;
  // The SQLite connection is the first application's: leave it open.
  if (other.getDialect() === 'sqlite') (other.connectionManager as unknown as { connections: unknown }).connections = {};
  await other.close();
}

matrix('foreign keys only the database (another application) declares', (env) => {
  let other: Sequelize | undefined;
  let Note: ModelStatic<Model>;
  let Pin: ModelStatic<Model>;
  let NoteMark: ModelStatic<Model>;
  let Journal: ModelStatic<Model>;
  before(async () => {
    // The other application models `posts` by table name only; this application's models know
    // nothing of its tables or of their foreign keys.
    other = openOtherApplication(env.sequelize);
    const post = (onDelete: string, onUpdate: string) => ({
      type: DataTypes.INTEGER, field: 'post_id', allowNull: true,
      references: { model: 'posts', key: 'id' }, onDelete, onUpdate,
    });
    Note = other.define('OtherNote', { body: DataTypes.STRING, postId: post('CASCADE', 'CASCADE') }, { tableName: 'notes', timestamps: false });
    Pin = other.define('OtherPin', { postId: post('SET NULL', 'SET NULL') }, { tableName: 'pins', timestamps: false });
    NoteMark = other.define('OtherNoteMark', {
      noteId: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'notes', key: 'id' }, onDelete: 'CASCADE', onUpdate: 'CASCADE' },
    }, { tableName: 'note_marks', timestamps: false });
    Journal = other.define('OtherJournal', { line: DataTypes.STRING }, { tableName: 'journal', timestamps: false });
    for (const model of [Note, Pin, NoteMark, Journal]) await model.sync();
    if (env.dialect === 'sqlite') await env.sequelize.query('PRAGMA foreign_keys = ON');
  });
  after(() => closeOtherApplication(other));
  beforeEach(async () => {
    for (const model of [NoteMark, Pin, Note, Journal]) await model.destroy({ where: {} });
  });

  /** Two posts; notes (with a mark) and pins of the first; entries on the other application's tables. */
  async function arrange() {
    const { Post, Tag } = env.models;
    const post = await Post.create({ title: 'p' });
    const spare = await Post.create({ title: 'spare' });
    const note = await Note.create({ body: 'n', postId: post.get('id') });
    await NoteMark.create({ noteId: note.get('id') });
    await Pin.create({ postId: post.get('id') });
    await Journal.create({ line: 'j' });
    await env.cache({
      notes: [matching('notes')], notesOfPost: [matching('notes', { postId: post.get('id') as number })],
      pins: [matching('pins')], marks: [matching('note_marks')],
      journal: [matching('journal')], tags: [matching(Tag)],
    });
    return { post, spare };
  }

  it('a delete in a transaction (the first cascading write) reaches them after the commit', async () => {
    const { post } = await arrange();
    await env.sequelize.transaction(async (transaction) => {
      await post.destroy({ transaction });
      await env.expectCache({ kept: ['notes', 'pins', 'marks'] });
    });
    expect(await Note.count()).to.equal(0);
    await env.expectCache({ gone: ['notes', 'notesOfPost', 'pins', 'marks'], kept: ['journal', 'tags'] });
  });

  it('instance destroy invalidates the tables the database cascades to (CASCADE, SET NULL, onwards)', async () => {
    const { post } = await arrange();
    await post.destroy();
    expect(await Note.count()).to.equal(0);
    expect((await Pin.findOne())!.get('postId')).to.equal(null);
    await env.expectCache({ gone: ['notes', 'notesOfPost', 'pins', 'marks'], kept: ['journal', 'tags'] });
  });

  it('Model.destroy with a where invalidates them', async () => {
    const { post } = await arrange();
    await env.models.Post.destroy({ where: { id: post.get('id') } });
    await env.expectCache({ gone: ['notes', 'notesOfPost', 'pins', 'marks'], kept: ['journal', 'tags'] });
  });

  it('a delete without hooks (the safety net) invalidates them', async () => {
    const { post } = await arrange();
    await env.models.Post.destroy({ where: { id: post.get('id') }, hooks: false });
    await env.expectCache({ gone: ['notes', 'notesOfPost', 'pins', 'marks'], kept: ['journal', 'tags'] });
  });

  if (env.dialect === 'mariadb') {
    it('a truncate MariaDB refuses (the table is referenced) leaves them', async () => {
      await arrange();
      await env.models.Post.destroy({ truncate: true }).then(() => expect.fail('MariaDB should refuse'), (error: Error) => expect(error.message).to.match(/foreign key/i));
      await env.expectCache({ kept: ['notes', 'notesOfPost', 'pins', 'marks', 'journal', 'tags'] });
    });
  } else {
    it('a truncate invalidates them', async () => {
      // PostgreSQL needs CASCADE; SQLite deletes.
      await arrange();
      await env.models.Post.destroy({ truncate: true, cascade: env.dialect === 'postgres' });
      await env.expectCache({ gone: ['notes', 'notesOfPost', 'pins', 'marks'], kept: ['journal', 'tags'] });
    });
  }

  it('a referenced key change invalidates the ON UPDATE tables, not what references the rest', async () => {
    const { post } = await arrange();
    await env.models.Post.update({ id: 4242 }, { where: { id: post.get('id') } });
    expect((await Note.findOne())!.get('postId')).to.equal(4242);
    // note_marks references notes.id, which the cascade does not change.
    await env.expectCache({ gone: ['notes', 'notesOfPost', 'pins'], kept: ['marks', 'journal', 'tags'] });
  });

  it('an update of other columns leaves them', async () => {
    const { post } = await arrange();
    await post.update({ title: 'renamed' });
    await env.models.Post.update({ status: 'published' }, { where: { id: post.get('id') } });
    await env.expectCache({ kept: ['notes', 'notesOfPost', 'pins', 'marks', 'journal', 'tags'] });
  });

  it('reads the catalog once per instance, and again after a model is defined', async () => {
    const options = (env.sequelize as unknown as { options: { logging: unknown } }).options;
    const logging = options.logging;
    const reads: string[] = [];
    options.logging = (sql: string) => {
      if (/pg_constraint|REFERENTIAL_CONSTRAINTS|pragma_foreign_key_list/.test(sql)) reads.push(sql);
    };
    try {
      // Never synced: it only changes the instance's models.
      env.sequelize.define(unique('Scratch'), { x: DataTypes.INTEGER }, { tableName: unique('scratch') });
      for (let i = 0; i < 3; i += 1) {
        const { post } = await arrange();
        await post.destroy();
        await env.expectCache({ gone: ['notes', 'pins', 'marks'], kept: ['journal', 'tags'] });
      }
    } finally {
      options.logging = logging;
    }
    expect(reads).to.have.length(1);
  });

  // One connection, held by the write's transaction, makes the catalog read wait (SQLite has one
  // connection anyway); the backend does not matter, so one of them is enough.
  if (env.dialect !== 'sqlite' && env.backend === 'redis') it('a catalog that cannot be read in time widens to the tables the models map, then serves the next write', async () => {
    const app = openOtherApplication(env.sequelize, { pool: { max: 1 } });
    const hooks = registerSequelizeHooks(app, env.keyv);
    try {
      const AppPost = app.define('Post', { title: DataTypes.STRING }, { tableName: 'posts' });
      app.define('Tag', { name: DataTypes.STRING }, { tableName: 'tags' });
      const { post, spare } = await arrange();
      await app.transaction(async (transaction) => {
        await AppPost.destroy({ where: { id: post.get('id') }, transaction });
      });
      expect(env.errors.map((e) => e instanceof ForeignKeyCatalogError)).to.deep.equal([true]);
      env.errors.length = 0;
      // Widened without a catalog: every table the models map (this application's `tags`).
      await env.expectCache({ gone: ['tags'], kept: ['journal'] });
      // The read lands once the connection is free: the next write reaches the other tables.
      await env.cache({ tags: [matching('tags')], notes: [matching('notes')] });
      await AppPost.destroy({ where: { id: spare.get('id') } });
      await env.expectCache({ gone: ['notes'], kept: ['tags', 'journal'] });
      expect(env.errors).to.deep.equal([]);
    } finally {
      hooks.unregister();
      await app.close();
    }
  });
});
