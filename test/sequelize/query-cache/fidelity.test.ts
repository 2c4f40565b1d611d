/**
 * Results of cached finders are indistinguishable from the uncached finder's: on the miss (the
 * finder's own result) and on the hit (rebuilt from the cache, with no query sent), for includes
 * at every depth, raw rows, attribute subsets, order/limit/offset, scopes, paranoid models,
 * getters, virtuals and the column types whose JavaScript type differs by dialect.
 */
import { expect } from 'chai';
import { DataTypes, Op, type Model, type ModelStatic } from 'sequelize';
import { cached } from '../../../lib/sequelize/index.js';
import { call, matrix, seed, type Env } from '../support.js';
import { countSelects, observe } from './support.js';

type M = ModelStatic<Model>;
type Finder = 'findAll' | 'findOne' | 'findByPk' | 'findAndCountAll' | 'count' | 'max' | 'min' | 'sum';

/** An article: getters, a virtual with dependencies, JSON, BIGINT, DECIMAL, DATE; paranoid; scoped. */
function defineArticle(env: Env): M {
  const Article = env.sequelize.define('Article', {
    id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
    title: { type: DataTypes.STRING, allowNull: false, get(this: Model) { return String(this.getDataValue('title')).toUpperCase(); } },
    slug: { type: DataTypes.VIRTUAL(DataTypes.STRING, ['title']), get(this: Model) { return String(this.getDataValue('title')).toLowerCase().replace(/\s+/g, '-'); } },
    price: { type: DataTypes.DECIMAL(10, 2), allowNull: true },
    big: { type: DataTypes.BIGINT, allowNull: true },
    data: { type: DataTypes.JSON, allowNull: true },
    at: { type: DataTypes.DATE, allowNull: true },
    day: { type: DataTypes.DATEONLY, allowNull: true },
    flag: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    authorId: { type: DataTypes.BIGINT, allowNull: true },
  }, {
    tableName: 'articles', paranoid: true,
    defaultScope: { where: { flag: false } },
    scopes: { flagged: { where: { flag: true } }, withWriter: { include: [{ association: 'writer' }] } },
  });
  Article.belongsTo(env.models.Author, { as: 'writer', foreignKey: 'authorId' });
  env.models.Author.hasMany(Article, { as: 'articles', foreignKey: 'authorId' });
  return Article;
}

matrix('cached finders: results as uncached', (env) => {
  let Article: M;
  before(async () => {
    Article = defineArticle(env);
    await Article.sync();
  });
  beforeEach(async () => {
    await Article.destroy({ where: {}, force: true, hooks: false });
  });

  /** Runs a finder uncached, then cached twice (miss, hit); both must look exactly like the uncached result, and the hit send no query. */
  async function same(model: M, finder: Finder, ...args: unknown[]): Promise<unknown> {
    const direct = await (model as unknown as Record<Finder, (...a: unknown[]) => Promise<unknown>>)[finder](...args);
    const c = cached(model) as unknown as Record<Finder, (...a: unknown[]) => Promise<unknown>>;
    const miss = await c[finder](...args);
    const selects = countSelects(env.sequelize);
    let hit: unknown;
    try {
      hit = await c[finder](...args);
    } finally {
      selects.stop();
    }
    expect(observe(miss), 'miss').to.deep.equal(observe(direct));
    expect(observe(hit), 'hit').to.deep.equal(observe(direct));
    expect(selects.count, 'queries sent by the hit').to.equal(0);
    return hit;
  }

  async function articles({ a1, a2 }: { a1: Model; a2: Model }) {
    await Article.bulkCreate([
      { title: 'First Post', price: '12.50', big: '9007199254740993', data: { tags: ['x', 'y'], n: 1, nested: { ok: true } }, at: new Date('2024-02-03T04:05:06.789Z'), day: '2024-02-03', authorId: a1.get('id') },
      { title: 'Second', price: null, big: null, data: null, at: null, day: null, authorId: a2.get('id') },
      { title: 'Flagged One', flag: true, price: '0.10', authorId: a1.get('id') },
    ]);
    const gone = await Article.create({ title: 'Deleted', authorId: a1.get('id') });
    await gone.destroy();
  }

  it('findAll with includes at every depth (hasMany, belongsTo, belongsToMany with its join row)', async () => {
    const { Author, Post } = env.models;
    const { a1 } = await seed(env);
    await same(Post, 'findAll', { include: ['tags', 'author', 'comments'], order: [['id', 'ASC']] });
    await same(Author, 'findAll', { where: { id: a1.get('id') }, include: [{ association: 'posts', include: ['tags', { association: 'comments', include: ['post'] }] }, 'profile'], order: [['id', 'ASC'], ['posts', 'id', 'ASC']] });
  });

  it('includes given by model, with where, required, attributes, through attributes and separate', async () => {
    const { Author, Post, Tag, Comment } = env.models;
    await seed(env);
    await same(Post, 'findAll', { include: [{ model: Tag, as: 'tags', through: { attributes: [] } }], order: [['id', 'ASC']] });
    await same(Post, 'findAll', { include: [{ model: Tag, as: 'tags', where: { name: 't1' }, attributes: ['name'] }] });
    await same(Post, 'findAll', { include: [{ model: Comment, as: 'comments', required: false, where: { body: { [Op.like]: 'c%' } } }], order: [['id', 'ASC']] });
    await same(Author, 'findAll', { include: [{ association: 'posts', separate: true, order: [['id', 'DESC']], limit: 1 }], order: [['id', 'ASC']] });
  });

  it('raw rows, nest, attribute subsets and aliases, order, limit and offset', async () => {
    const { Post } = env.models;
    await seed(env);
    await same(Post, 'findAll', { raw: true, order: [['id', 'ASC']] });
    await same(Post, 'findAll', { raw: true, include: ['author'], order: [['id', 'ASC']] });
    await same(Post, 'findAll', { raw: true, nest: true, include: ['author'], order: [['id', 'ASC']] });
    await same(Post, 'findAll', { attributes: ['id', ['title', 'heading']], order: [['title', 'DESC']], limit: 2, offset: 1 });
    await same(Post, 'findAll', { attributes: { exclude: ['createdAt', 'updatedAt'] }, order: [['id', 'ASC']] });
    await same(Post, 'findOne', { where: { title: 'p2' }, raw: true });
  });

  it('scopes and default scopes, paranoid rows and paranoid: false', async () => {
    const { Post, Comment } = env.models;
    const seeded = await seed(env);
    await articles(seeded);
    const { c1 } = seeded;
    await c1.destroy();
    await same(Post.scope('published'), 'findAll', { order: [['id', 'ASC']] });
    await same(Post.unscoped(), 'findAll', { order: [['id', 'ASC']] });
    await same(Article, 'findAll', { order: [['id', 'ASC']] });
    await same(Article.scope('flagged'), 'findAll', { order: [['id', 'ASC']] });
    await same(Article.scope('withWriter'), 'findAll', { order: [['id', 'ASC']] });
    await same(Article.unscoped(), 'findAll', { paranoid: false, order: [['id', 'ASC']] });
    await same(Comment, 'findAll', { order: [['id', 'ASC']] });
    await same(Comment, 'findAll', { paranoid: false, order: [['id', 'ASC']] });
  });

  it('getters, virtuals, JSON, DATE, DATEONLY, DECIMAL, BIGINT and BOOLEAN values', async () => {
    const { Item } = env.models;
    await articles(await seed(env));
    await Item.bulkCreate([
      { sku: 'a', price: '3.50', active: false, onDay: '2023-12-31', at: new Date('2023-12-31T23:59:59.999Z'), meta: { a: [1, 2, { b: null }], '\u0000': 'odd key' } },
      { sku: 'b', price: null, active: true, onDay: null, at: null, meta: null },
    ]);
    const [first] = await same(Article, 'findAll', { order: [['id', 'ASC']] }) as Model[];
    expect(first!.get('title')).to.equal('FIRST POST');
    expect(first!.get('slug')).to.equal('first-post');
    await same(Article, 'findAll', { attributes: ['id', 'slug'], order: [['id', 'ASC']] });
    await same(Item, 'findAll', { order: [['id', 'ASC']] });
    await same(Item, 'findAll', { raw: true, order: [['id', 'ASC']] });
  });

  it('findByPk, findOne (found and not), findAndCountAll, count (grouped too), max, min and sum', async () => {
    const { Author, Post, Item } = env.models;
    const seeded = await seed(env);
    await articles(seeded);
    const { a1, p1 } = seeded;
    await Item.bulkCreate([{ sku: 'a', price: '3.50', at: new Date('2020-01-01T00:00:00.000Z') }, { sku: 'b', price: '1.25', at: new Date('2021-01-01T00:00:00.000Z') }]);
    await same(Author, 'findByPk', a1.get('id'));
    await same(Author, 'findByPk', a1.get('id'), { include: ['posts', 'profile'] });
    await same(Post, 'findByPk', 99_999);
    await same(Post, 'findOne', { where: { id: p1.get('id') }, include: ['tags'] });
    await same(Post, 'findOne', { where: { title: 'nope' } });
    await same(Post, 'findAndCountAll', { where: { authorId: a1.get('id') }, include: ['comments'], order: [['id', 'ASC']] });
    await same(Post, 'findAndCountAll', { where: { title: 'nope' } });
    await same(Post, 'count');
    await same(Post, 'count', { where: { status: 'draft' }, include: ['comments'], distinct: true });
    await same(Post, 'count', { group: ['status'] });
    await same(Item, 'max', 'price');
    await same(Item, 'min', 'at');
    await same(Item, 'sum', 'price');
    await same(Article, 'max', 'big');
    await same(Post, 'sum', 'views', { where: { title: 'nope' } });
  });

  it('instances from a hit save, update, reload and destroy like the uncached ones', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    const query = { where: { id: p1.get('id') }, include: ['tags', 'author'] };
    await cached(Post).findOne(query);
    const hit = (await cached(Post).findOne(query))!;
    expect(hit.isNewRecord).to.equal(false);
    expect(hit.changed()).to.equal(false);
    hit.set('title', 'edited');
    expect(hit.changed()).to.deep.equal(['title']);
    await hit.save();
    expect((await Post.findByPk(p1.get('id') as number))!.get('title')).to.equal('edited');
    expect((await cached(Post).findOne(query))!.get('title'), 'the save invalidated the entry').to.equal('edited');
    const again = (await cached(Post).findOne(query))!;
    await again.update({ views: 5 });
    await again.reload();
    expect(again.get('views')).to.equal(5);
    expect(await call(again, 'getTags')).to.have.length(1);
    await again.destroy();
    expect(await Post.findByPk(p1.get('id') as number)).to.equal(null);
    expect(await cached(Post).findOne(query)).to.equal(null);
  });
});
