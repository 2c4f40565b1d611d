/**
 * Values are normalized by column type, so the dependency side (what users pass, what instances
 * hold) and the invalidation side (what the database returns: BIGINT and DECIMAL as strings on
 * PostgreSQL, booleans as 0/1 and dates as strings on SQLite) always build the same tags.
 */
import { expect } from 'chai';
import { DataTypes } from 'sequelize';
import { matching } from '../../lib/index.js';
import { related } from '../../lib/sequelize/index.js';
import { normalizeValue, normOf } from '../../lib/sequelize/normalize.js';
import { matrix, seed, unique } from './support.js';

matrix('normalization by column type', (env) => {
  it('BIGINT: 7, \'7\' and 7n are the same key, whatever the dialect returns', async () => {
    const { Post } = env.models;
    const { a1, a2, p1 } = await seed(env);
    const id = Number(a1.get('id'));
    if (env.dialect === 'postgres') expect(a1.get('id')).to.be.a('string'); // BIGINT comes back as text
    await env.cache({
      num: [matching(Post, { authorId: id })], str: [matching(Post, { authorId: String(id) })], big: [matching(Post, { authorId: BigInt(id) })],
      rel: [related(a1, 'posts')], other: [matching(Post, { authorId: Number(a2.get('id')) })],
    });
    expect(matching(Post, { authorId: '9007199254740993' }).where.authorId).to.equal(9007199254740993n);
    await Post.update({ views: 1 }, { where: { id: p1.get('id') } }); // pre-queried: the database's own representation
    await env.expectCache({ gone: ['num', 'str', 'big', 'rel'], kept: ['other'] });
  });

  it('BOOLEAN, DECIMAL, DATEONLY and DATE match across representations', async () => {
    const { Item } = env.models;
    const at = new Date('2024-03-04T05:06:07.890Z');
    const i1 = await Item.create({ sku: 'a', active: true, price: '1.50', onDay: '2024-01-02', at });
    const i2 = await Item.create({ sku: 'b', active: false, price: 2, onDay: '2024-01-03', at: new Date(0) });
    await env.cache({
      active: [matching(Item, { active: true })], active1: [matching(Item, { active: 1 })], price: [matching(Item, { price: 1.5 })], priceText: [matching(Item, { price: '1.5' })],
      day: [matching(Item, { onDay: '2024-01-02' })], at: [matching(Item, { at })], atText: [matching(Item, { at: at.toISOString() })], atMs: [matching(Item, { at: at.getTime() })],
      priceBig: [matching(Item, { price: 1.5 })], active1s: [matching(Item, { active: 't' })],
      inactive: [matching(Item, { active: false })], price2: [matching(Item, { price: 2 })], day2: [matching(Item, { onDay: '2024-01-03' })], i2: [i2],
    });
    await Item.update({ sku: 'a2' }, { where: { id: i1.get('id') } });
    await env.expectCache({ gone: ['active', 'active1', 'active1s', 'price', 'priceText', 'priceBig', 'day', 'at', 'atText', 'atMs'], kept: ['inactive', 'price2', 'day2', 'i2'] });
  });

  it('a model in a schema (PostgreSQL) or with a custom table name has one canonical table name', async () => {
    const schema = env.dialect === 'postgres' ? unique('kcx').toLowerCase() : undefined;
    if (schema) await env.sequelize.createSchema(schema, {});
    const Thing = env.sequelize.define('Thing', { name: DataTypes.STRING }, { tableName: 'things', ...(schema ? { schema } : {}) });
    await Thing.sync();
    try {
      const t1 = await Thing.create({ name: 't1' });
      const t2 = await Thing.create({ name: 't2' });
      expect(matching(Thing, {}).table).to.equal(schema ? `${schema}.things` : 'things');
      await env.cache({ t1: [t1], byName: [matching(Thing, { name: 't1' })], t2: [t2], posts: [env.models.Post] });
      await t1.update({ name: 'x' });
      await env.expectCache({ gone: ['t1', 'byName'], kept: ['t2', 'posts'] });
      await env.cache({ t1: [t1] });
      await env.sequelize.query(schema ? `UPDATE "${schema}"."things" SET name = 'raw'` : 'UPDATE things SET name = \'raw\'');
      await env.expectCache({ gone: ['t1', 't2'], kept: ['posts'] });
    } finally {
      await Thing.drop();
      env.sequelize.modelManager.removeModel(Thing);
      if (schema) await env.sequelize.dropSchema(schema, {});
    }
  });
});

describe('dates on the MySQL family compare at the precision the column stores', () => {
  const at = new Date('2024-03-04T05:06:07.890Z');
  const normalized = (type: unknown, dialect: string, value: unknown) => normalizeValue(normOf({ type }, dialect)!, value) as Date;
  it('MariaDB truncates to whole seconds by default, to the given digits otherwise', () => {
    expect(normalized(DataTypes.DATE, 'mariadb', at).toISOString()).to.equal('2024-03-04T05:06:07.000Z');
    expect(normalized(DataTypes.DATE(1), 'mariadb', at).toISOString()).to.equal('2024-03-04T05:06:07.800Z');
    expect(normalized(DataTypes.DATE(3), 'mariadb', at).toISOString()).to.equal('2024-03-04T05:06:07.890Z');
  });
  it('MySQL rounds; other dialects keep the millisecond', () => {
    expect(normalized(DataTypes.DATE, 'mysql', at).toISOString()).to.equal('2024-03-04T05:06:08.000Z');
    expect(normalized(DataTypes.DATE, 'postgres', at).toISOString()).to.equal('2024-03-04T05:06:07.890Z');
    expect(normalized(DataTypes.DATE, 'mariadb', '1969-12-31T23:59:59.500Z').toISOString()).to.equal('1969-12-31T23:59:59.000Z');
  });
});

matrix('text compared the way the column\'s collation compares it', (env) => {
  it('case, accents and trailing spaces the database ignores never leave an entry stale', async () => {
    const { Author } = env.models;
    const a = await Author.create({ name: 'o' });
    await env.cache({ lower: [matching(Author, { name: 'o' })], other: [matching(Author, { name: 'x' })] });
    await Author.create({ name: 'O' });
    // The MySQL family's default collations count 'O' as 'o' (and 'ó', 'o ' too): the entry goes.
    // Elsewhere they differ, so it stays.
    await env.expectCache(env.dialect === 'mariadb' ? { gone: ['lower'], kept: ['other'] } : { kept: ['lower', 'other'] });
    // What the database itself says: under its collation the two rows both match 'o'.
    expect(await Author.count({ where: { name: 'o' } })).to.equal(env.dialect === 'mariadb' ? 2 : 1);
    await env.cache({ lower: [matching(Author, { name: 'o' })] });
    await a.update({ name: 'ó ' });
    await env.expectCache({ gone: ['lower'], kept: ['other'] });
  });

  it('a UUID written with or without dashes, in any case, is the same value', async () => {
    const Thing = env.sequelize.define('UuidThing', { ref: DataTypes.UUID }, { tableName: unique('uuids').toLowerCase() });
    await Thing.sync();
    const ref = '6f1c1c2e-5d2a-4a53-9b3e-0f6f2b1d9a11';
    const row = await Thing.create({ ref });
    await env.cache({ plain: [matching(Thing, { ref: ref.replace(/-/g, '') })], upper: [matching(Thing, { ref: ref.toUpperCase() })] });
    await row.update({ ref: null });
    await env.expectCache({ gone: ['plain', 'upper'] });
  });
});
