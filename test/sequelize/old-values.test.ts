/**
 * Issue 17, instance writes: the old image of the row a save / destroy / restore changes is what
 * the database held at the write (not the instance's idea of it), and the new image is what the
 * database holds after it (columns it computes included).
 */
import { expect } from 'chai';
import { DataTypes, type Model, type ModelStatic, type Transaction } from 'sequelize';
import { matching } from '../../lib/index.js';
import { related } from '../../lib/sequelize/index.js';
import { matrix, seed, unique, type Dialect } from './support.js';

matrix('old values: a stale instance', (env) => {
  it('save() of an instance loaded before another request moved the row invalidates the row\'s real parent', async () => {
    const { Post } = env.models;
    const { a1, a2, a3, p1 } = await seed(env);
    const p = (await Post.findByPk(p1.get('id') as number))!;
    await Post.update({ authorId: a2.get('id') }, { where: { id: p1.get('id') } });
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')] });
    p.set('authorId', a3.get('id'));
    await p.save();
    await env.expectCache({ gone: ['a2posts', 'a3posts'], kept: [] });
  });

  it('a save that writes another field still invalidates the entries of the row\'s real status', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    const p = (await Post.findByPk(p1.get('id') as number))!;
    await Post.update({ status: 'published' }, { where: { id: p1.get('id') } });
    await env.cache({ published: [matching(Post, { status: 'published' })], archived: [matching(Post, { status: 'archived' })] });
    p.set('title', 'renamed');
    await p.save();
    await env.expectCache({ gone: ['published'], kept: ['archived'] });
  });

  it('destroy() of a stale instance invalidates the row\'s real parent', async () => {
    const { Post } = env.models;
    const { a2, a3, p1 } = await seed(env);
    const p = (await Post.findByPk(p1.get('id') as number))!;
    await Post.update({ authorId: a2.get('id') }, { where: { id: p1.get('id') } });
    await env.cache({ a2posts: [related(a2, 'posts')], a3posts: [related(a3, 'posts')] });
    await p.destroy();
    await env.expectCache({ gone: ['a2posts'], kept: ['a3posts'] });
  });

  it('a paranoid destroy and a restore of stale instances invalidate the row\'s real parent', async () => {
    const { Comment } = env.models;
    const { c1, p1, p2 } = await seed(env);
    const c = (await Comment.findByPk(c1.get('id') as number))!;
    await Comment.update({ postId: p2.get('id') }, { where: { id: c1.get('id') } });
    await env.cache({ p1comments: [related(p1, 'comments')], p2comments: [related(p2, 'comments')] });
    await c.destroy();
    await env.expectCache({ gone: ['p2comments'] });
    const deleted = (await Comment.findByPk(c1.get('id') as number, { paranoid: false }))!;
    await Comment.update({ postId: p1.get('id') }, { where: { id: c1.get('id') }, paranoid: false });
    await env.cache({ p1comments: [related(p1, 'comments')], p2comments: [related(p2, 'comments')] });
    await deleted.restore();
    await env.expectCache({ gone: ['p1comments'] });
  });

});

matrix('old values: a field set twice, a normalising hook', (env) => {
  let Doc: ModelStatic<Model>;
  before(async () => {
    Doc = env.sequelize.define('Doc', {
      title: { type: DataTypes.STRING, allowNull: false, defaultValue: '' },
      status: { type: DataTypes.STRING, allowNull: false, defaultValue: 'draft' },
    }, {
      tableName: unique('docs').toLowerCase(),
      timestamps: false,
      hooks: {
        // The application normalises the field: set() moves the value it was given into _previousDataValues.
        beforeSave: (doc: Model) => { doc.set('status', String(doc.get('status')).trim().toLowerCase()); },
        beforeUpdate: (doc: Model) => { doc.set('status', String(doc.get('status')).trim().toLowerCase()); },
      },
    });
    await Doc.sync();
  });

  const cacheStatuses = () => env.cache({
    drafts: [matching(Doc, { status: 'draft' })], published: [matching(Doc, { status: 'published' })], archived: [matching(Doc, { status: 'archived' })],
  });

  it('a field set twice before save() invalidates the row\'s stored value', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    await env.cache({ drafts: [matching(Post, { status: 'draft' })], published: [matching(Post, { status: 'published' })], archived: [matching(Post, { status: 'archived' })] });
    p1.set('status', 'review');
    p1.set('status', 'published');
    await p1.save();
    await env.expectCache({ gone: ['drafts', 'published'], kept: ['archived'] });
  });

  it('update() after an unsaved assignment invalidates the row\'s stored value', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    await env.cache({ drafts: [matching(Post, { status: 'draft' })], published: [matching(Post, { status: 'published' })], archived: [matching(Post, { status: 'archived' })] });
    p1.set('status', 'review');
    await p1.update({ status: 'published' });
    await env.expectCache({ gone: ['drafts', 'published'], kept: ['archived'] });
  });

  it('a hook that normalises the written field: save() invalidates the row\'s stored value', async () => {
    const doc = await Doc.create({ title: 'a' });
    await cacheStatuses();
    doc.set('status', '  Published ');
    await doc.save();
    expect(doc.get('status')).to.equal('published');
    await env.expectCache({ gone: ['drafts', 'published'], kept: ['archived'] });
  });

  it('Model.update with individualHooks and a hook changing the written field invalidates the stored value', async () => {
    const doc = await Doc.create({ title: 'a' });
    await cacheStatuses();
    await Doc.update({ status: ' ARCHIVED' }, { where: { id: doc.get('id') }, individualHooks: true });
    expect((await Doc.findByPk(doc.get('id') as number))!.get('status')).to.equal('archived');
    await env.expectCache({ gone: ['drafts', 'archived'], kept: ['published'] });
  });

  it('the row is read at the write\'s statement: a commit landing while an application hook runs is invalidated, and no lock is held meanwhile', async () => {
    const doc = await Doc.create({ title: 'a' });
    const id = doc.get('id') as number;
    // The save waits in an application hook (after the library's) while another request writes.
    let hookReached!: () => void;
    const reached = new Promise<void>((resolve) => (hookReached = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const waitInHook = async (d: Model) => {
      if (d.get('title') !== 'gated') return;
      hookReached();
      await gate;
    };
    Doc.addHook('beforeUpdate', 'gate', waitInHook);
    try {
      const saving = env.sequelize.transaction(async (transaction: Transaction) => {
        doc.set('title', 'gated');
        await doc.save({ transaction });
      });
      await reached;
      // Not blocked: nothing is locked before the statement (SQLite: the transaction has not written yet).
      await Doc.update({ status: 'published' }, { where: { id } });
      await cacheStatuses();
      release();
      await saving;
      await env.expectCache({ gone: ['published'], kept: ['archived'] });
      expect((await Doc.findByPk(id))!.get('status')).to.equal('published');
    } finally {
      Doc.removeHook('beforeUpdate', 'gate');
      release();
    }
  });
});

/** DDL of a table whose `kind` the database computes from `views`. */
function generatedTable(dialect: Dialect, table: string): string {
  const expression = "CASE WHEN views > 10 THEN 'hot' ELSE 'cold' END";
  if (dialect === 'postgres') return `CREATE TABLE "${table}" (id SERIAL PRIMARY KEY, views INTEGER NOT NULL DEFAULT 0, kind VARCHAR(10) GENERATED ALWAYS AS (${expression}) STORED)`;
  if (dialect === 'mariadb') return `CREATE TABLE \`${table}\` (id INTEGER AUTO_INCREMENT PRIMARY KEY, views INTEGER NOT NULL DEFAULT 0, kind VARCHAR(10) AS (${expression}) STORED)`;
  return `CREATE TABLE "${table}" (id INTEGER PRIMARY KEY AUTOINCREMENT, views INTEGER NOT NULL DEFAULT 0, kind TEXT GENERATED ALWAYS AS (${expression}) VIRTUAL)`;
}

matrix('old values: columns the database computes', (env) => {
  let Stat: ModelStatic<Model>;
  let table: string;
  before(async () => {
    table = unique('stats').toLowerCase();
    await env.sequelize.query(generatedTable(env.dialect, table));
    Stat = env.sequelize.define('Stat', {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      views: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      kind: { type: DataTypes.STRING },
    }, { tableName: table, timestamps: false });
  });
  beforeEach(async () => {
    await Stat.destroy({ where: {}, hooks: false });
  });

  it('save() invalidates the entries of the value the database recomputed', async () => {
    await env.sequelize.query(`INSERT INTO ${env.sequelize.getQueryInterface().quoteIdentifier(table)} (views) VALUES (1)`);
    const stat = (await Stat.findOne())!;
    expect(stat.get('kind')).to.equal('cold');
    await env.cache({ cold: [matching(Stat, { kind: 'cold' })], hot: [matching(Stat, { kind: 'hot' })] });
    stat.set('views', 20);
    await stat.save();
    await env.expectCache({ gone: ['cold', 'hot'] });
  });

  it('the row is read back after a save only on tables whose columns the database may compute', async () => {
    const { p1 } = await seed(env);
    await env.sequelize.query(`INSERT INTO ${env.sequelize.getQueryInterface().quoteIdentifier(table)} (views) VALUES (1)`);
    const stat = (await Stat.findOne())!;
    const readBack = (queries: string[], name: string) => queries.filter((q) => /SELECT/i.test(q) && q.includes(name)).length;
    // The catalog is read in the background from the first write on: save until posts' answer is in.
    let postReads = 2;
    for (let i = 0; i < 200 && postReads > 1; i++) {
      const queries: string[] = [];
      await stat.update({ views: stat.get('views') === 1 ? 2 : 1 }, { logging: (sql: string) => queries.push(sql) });
      await p1.update({ views: i + 1 }, { logging: (sql: string) => queries.push(sql) });
      postReads = readBack(queries, 'posts');
    }
    expect(postReads, 'posts: only the read before the write').to.equal(1);
    await env.cache({ cold: [matching(Stat, { kind: 'cold' })], hot: [matching(Stat, { kind: 'hot' })], p1: [p1] });
    const queries: string[] = [];
    await stat.update({ views: 30 }, { logging: (sql: string) => queries.push(sql) });
    expect(readBack(queries, table), `${table}: read before and after`).to.equal(2);
    await env.expectCache({ gone: ['cold', 'hot'], kept: ['p1'] });
  });

  it('inside a transaction too, once it commits', async () => {
    await env.sequelize.query(`INSERT INTO ${env.sequelize.getQueryInterface().quoteIdentifier(table)} (views) VALUES (20)`);
    const stat = (await Stat.findOne())!;
    expect(stat.get('kind')).to.equal('hot');
    await env.cache({ cold: [matching(Stat, { kind: 'cold' })], hot: [matching(Stat, { kind: 'hot' })] });
    await env.sequelize.transaction(async (transaction: Transaction) => {
      await stat.update({ views: 2 }, { transaction });
    });
    await env.expectCache({ gone: ['cold', 'hot'] });
  });
});

matrix('old values: a read that fails', (env) => {
  let Note: ModelStatic<Model>;
  before(async () => {
    const table = unique('notes').toLowerCase();
    await env.sequelize.define('NoteTable', { status: DataTypes.STRING }, { tableName: table, timestamps: false }).sync();
    // The model knows a column the table lacks: the hooks' reads fail, writes of other columns do not.
    Note = env.sequelize.define('Note', { status: DataTypes.STRING, ghost: DataTypes.STRING }, { tableName: table, timestamps: false });
  });

  it('in a transaction the write and the transaction go on; every entry of the table\'s schemes is invalidated', async () => {
    await Note.create({ status: 'draft' }, { fields: ['status'], returning: false });
    const note = (await Note.findOne({ attributes: ['id', 'status'] }))!;
    await env.cache({ drafts: [matching(Note, { status: 'draft' })], others: [matching(Note, { status: 'other' })] });
    await env.sequelize.transaction(async (transaction: Transaction) => {
      await note.update({ status: 'published' }, { transaction });
      await Note.findAll({ attributes: ['id', 'status'], transaction });
    });
    expect((await Note.findByPk(note.get('id') as number, { attributes: ['id', 'status'] }))!.get('status')).to.equal('published');
    expect(env.errors.map((e) => e.name)).to.include('PrequeryError');
    env.errors.length = 0;
    await env.expectCache({ gone: ['drafts', 'others'] });
  });
});
