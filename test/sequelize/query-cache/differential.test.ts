/**
 * Randomized differential test of query caching, per dialect and backend: a pool of cached finder
 * calls is read after every random write (instance save/destroy/restore, bulk update/destroy/create,
 * upsert, increment, association add/remove/set, raw SQL, transactions that commit or roll back),
 * and every cached result must equal the uncached one: 0 stale. Beside the exact cache runs a
 * baseline that invalidates everything on every committed write; both hit rates are reported.
 * KC_DIFF_SEED and KC_DIFF_STEPS change the run.
 */
import { expect } from 'chai';
import Keyv from 'keyv';
import { Op, type Model, type ModelStatic, type Transaction } from 'sequelize';
import { cached, registerSequelizeHooks, type SequelizeHooks } from '../../../lib/sequelize/index.js';
import { call, matrix, openStore, unique, type Env, type Models } from '../support.js';
import { countSelects, observe } from './support.js';

type M = ModelStatic<Model>;
type Finder = 'findAll' | 'findOne' | 'findByPk' | 'findAndCountAll' | 'count' | 'max' | 'min' | 'sum';
interface Query { name: string; model: M; finder: Finder; args: unknown[] }

const STEPS = Number(process.env.KC_DIFF_STEPS ?? 30);
const SEED = Number(process.env.KC_DIFF_SEED ?? 20);

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]! };
}
type Random = ReturnType<typeof random>;

/** The pool: equality, IN, range, includes of every kind with and without where, counts, aggregates, paranoid, scopes. */
function pool({ Author, Post, Tag, Comment }: Models, ids: { authors: unknown[]; posts: unknown[] }): Query[] {
  const [a1, a2] = ids.authors;
  const byId = [['id', 'ASC']];
  const q = (name: string, model: M, finder: Finder, ...args: unknown[]): Query => ({ name, model, finder, args });
  return [
    q('posts of a1', Post, 'findAll', { where: { authorId: a1 }, order: byId }),
    q('posts of a1 or a2 (IN)', Post, 'findAll', { where: { authorId: { [Op.in]: [a1, a2] } }, order: byId }),
    q('posts with views > 2 (range)', Post, 'findAll', { where: { views: { [Op.gt]: 2 } }, order: byId }),
    q('posts without author', Post, 'findAll', { where: { authorId: null }, order: byId }),
    q('posts with tags (belongsToMany)', Post, 'findAll', { include: ['tags'], order: [['id', 'ASC'], ['tags', 'id', 'ASC']] }),
    q('published posts with author and comments', Post, 'findAll', { where: { status: 'published' }, include: ['author', 'comments'], order: [['id', 'ASC'], ['comments', 'id', 'ASC']] }),
    q('authors with posts with tags', Author, 'findAll', { include: [{ association: 'posts', include: ['tags'] }], order: [['id', 'ASC'], ['posts', 'id', 'ASC'], ['posts', 'tags', 'id', 'ASC']] }),
    q('posts with a comment "hot" (required)', Post, 'findAll', { include: [{ association: 'comments', where: { body: 'hot' } }], order: [['id', 'ASC'], ['comments', 'id', 'ASC']] }),
    q('posts with tag t1 (btm where)', Post, 'findAll', { include: [{ association: 'tags', where: { name: 't1' } }], order: byId }),
    q('tags with posts', Tag, 'findAll', { include: ['posts'], order: [['id', 'ASC'], ['posts', 'id', 'ASC']] }),
    q('post p1 by pk with tags', Post, 'findByPk', ids.posts[0], { include: ['tags', 'comments'], order: [['tags', 'id', 'ASC'], ['comments', 'id', 'ASC']] }),
    q('author a2 by pk', Author, 'findByPk', a2),
    q('first draft of a2', Post, 'findOne', { where: { authorId: a2, status: 'draft' }, order: byId }),
    q('count posts of a1', Post, 'count', { where: { authorId: a1 } }),
    q('count posts with comments joined', Post, 'count', { include: ['comments'] }),
    q('count by status', Post, 'count', { group: ['status'], order: [['status', 'ASC']] }),
    q('max views', Post, 'max', 'views'),
    q('sum views of published', Post, 'sum', 'views', { where: { status: 'published' } }),
    q('comments (paranoid)', Comment, 'findAll', { order: byId }),
    q('comments incl. deleted', Comment, 'findAll', { paranoid: false, order: byId }),
    q('published scope', Post.scope('published'), 'findAll', { order: byId }),
    q('page of a1 posts with count', Post, 'findAndCountAll', { where: { authorId: a1 }, order: byId, limit: 2 }),
    q('raw posts with author', Post, 'findAll', { raw: true, include: ['author'], order: byId }),
    q('authors with separate posts', Author, 'findAll', { include: [{ association: 'posts', separate: true, order: byId }], order: byId }),
  ];
}

async function seedData(env: Env, r: Random) {
  const { Author, Post, Tag, Comment } = env.models;
  const authors = await Author.bulkCreate([{ name: 'a1' }, { name: 'a2' }, { name: 'a3' }, { name: 'a4' }]);
  const authorIds = (await Author.findAll({ order: [['id', 'ASC']] })).map((a) => a.get('id'));
  const tags = await Tag.bulkCreate([{ name: 't1' }, { name: 't2' }, { name: 't3' }]);
  for (let i = 0; i < 8; i += 1) {
    const post = await Post.create({ title: `p${i}`, authorId: r.pick(authorIds), views: r.int(5), status: r.pick(['draft', 'published']) });
    if (r.next() < 0.6) await call(post, 'addTag', r.pick(tags));
    if (r.next() < 0.6) await Comment.create({ body: r.pick(['hot', 'cold']), postId: post.get('id') });
  }
  expect(authors).to.have.length(4);
  return { authors: authorIds, posts: (await Post.findAll({ order: [['id', 'ASC']] })).map((p) => p.get('id')) };
}

type Write = (r: Random, t?: Transaction) => Promise<unknown>;

/** Every write path, each picking its rows at random. */
function writes({ Author, Post, Tag, Comment }: Models, env: Env): Record<string, Write> {
  const some = async (model: M, r: Random, t?: Transaction, paranoid = true) => r.pick(await model.findAll({ order: [['id', 'ASC']], transaction: t, paranoid }));
  const authorId = async (r: Random, t?: Transaction) => (r.next() < 0.15 ? null : (await some(Author, r, t)).get('id'));
  let names = 0;
  return {
    'instance save': async (r, t) => {
      const post = await some(Post, r, t);
      post.set(r.pick([{ title: `t${r.int(99)}` }, { status: r.pick(['draft', 'published']) }, { views: r.int(6) }, { authorId: await authorId(r, t) }]));
      return post.save({ transaction: t });
    },
    'instance create': async (r, t) => Post.create({ title: `n${r.int(99)}`, authorId: await authorId(r, t), views: r.int(6) }, { transaction: t }),
    'comment create': async (r, t) => Comment.create({ body: r.pick(['hot', 'cold']), postId: (await some(Post, r, t)).get('id') }, { transaction: t }),
    'comment move or edit': async (r, t) => (await Comment.count({ transaction: t })) && (await some(Comment, r, t)).update(r.next() < 0.5 ? { body: r.pick(['hot', 'cold', 'warm']) } : { postId: (await some(Post, r, t)).get('id') }, { transaction: t }),
    'instance destroy (paranoid)': async (r, t) => (await Comment.count({ transaction: t })) && (await some(Comment, r, t)).destroy({ transaction: t }),
    'instance restore': async (r, t) => {
      const gone = (await Comment.findAll({ paranoid: false, transaction: t })).filter((c) => c.get('deletedAt') !== null);
      return gone.length ? r.pick(gone).restore({ transaction: t }) : undefined;
    },
    'instance destroy (post)': async (r, t) => {
      if (await Post.count({ transaction: t }) < 4) return undefined;
      const post = await some(Post, r, t);
      await Comment.destroy({ where: { postId: post.get('id') }, force: true, transaction: t });
      await call(post, 'setTags', [], { transaction: t });
      return post.destroy({ transaction: t });
    },
    'bulk update': async (r, t) => Post.update({ views: r.int(6) }, { where: { authorId: await authorId(r, t) }, transaction: t }),
    'bulk destroy': async (r, t) => Comment.destroy({ where: { body: r.pick(['hot', 'cold', 'warm']) }, transaction: t }),
    'bulk create': async (r, t) => Post.bulkCreate([{ title: 'b1', authorId: await authorId(r, t) }, { title: 'b2', authorId: await authorId(r, t), status: 'published' }], { transaction: t }),
    'upsert': async (r, t) => Tag.upsert({ id: (await some(Tag, r, t)).get('id'), name: `u${(names += 1)}` }, { transaction: t }),
    'increment': async (r, t) => (await some(Post, r, t)).increment('views', { by: 1 + r.int(3), transaction: t }),
    'association add': async (r, t) => call(await some(Post, r, t), 'addTag', await some(Tag, r, t), { transaction: t }),
    'association remove': async (r, t) => call(await some(Post, r, t), 'removeTag', await some(Tag, r, t), { transaction: t }),
    'association set (belongsToMany)': async (r, t) => call(await some(Post, r, t), 'setTags', r.next() < 0.5 ? [] : [await some(Tag, r, t)], { transaction: t }),
    'association set (hasMany)': async (r, t) => call(await some(Author, r, t), 'setPosts', [await some(Post, r, t)], { transaction: t }),
    'raw SQL': async (r, t) => env.sequelize.query('UPDATE posts SET views = views + 1 WHERE id = ?', { replacements: [(await some(Post, r, t)).get('id')], transaction: t }),
  };
}

matrix('cached finders: randomized differential', (env) => {
  let baseline: { keyv: Keyv; hooks: SequelizeHooks; disconnect(): Promise<void> };
  before(() => {
    // The baseline caches in a store of its own, emptied after every committed write.
    const store = openStore(env.backend);
    const keyv = new Keyv({ store, namespace: unique('kc-diff-base') });
    baseline = { keyv, hooks: undefined as never, disconnect: () => store.disconnect() };
  });
  beforeEach(() => {
    baseline.hooks = registerSequelizeHooks(env.sequelize, baseline.keyv);
  });
  afterEach(() => baseline.hooks.unregister());
  after(async () => {
    await baseline.keyv.clear();
    await baseline.disconnect();
  });

  it(`every cached result equals the uncached one after each of ${STEPS} random writes`, async function () {
    this.timeout(240_000);
    const r = random(SEED + env.dialect.length * 7 + env.backend.length);
    if (process.env.KC_DIFF_SQL) (env.sequelize as unknown as { options: { logging: unknown } }).options.logging = (sql: string) => process.stderr.write(`SQL ${sql}\n`);
    const ids = await seedData(env, r);
    const queries = pool(env.models, ids);
    const paths = writes(env.models, env);
    const run = (query: Query, keyv?: Keyv, transaction?: Transaction) => {
      const options = { ...(query.args.at(-1) as object | undefined), transaction };
      const args = query.finder === 'findByPk' || ['max', 'min', 'sum'].includes(query.finder) ? [query.args[0], options] : [options];
      const target = keyv ? cached(query.model, { keyv }) : query.model;
      return (target as unknown as Record<Finder, (...a: unknown[]) => Promise<unknown>>)[query.finder](...args);
    };
    const counts = { exact: { hits: 0, reads: 0 }, baseline: { hits: 0, reads: 0 }, stale: 0, steps: {} as Record<string, number> };
    const stale: string[] = [];
    const check = async (step: string, transaction?: Transaction, only?: Query[]) => {
      for (const query of only ?? queries) {
        const expected = observe(await run(query, undefined, transaction));
        for (const [label, keyv] of [['exact', env.keyv], ['baseline', baseline.keyv]] as const) {
          if (transaction && label === 'baseline') continue;
          const selects = countSelects(env.sequelize);
          let got: unknown;
          try {
            got = observe(await run(query, keyv, transaction));
          } finally {
            selects.stop();
          }
          if (!transaction) {
            counts[label].reads += 1;
            if (selects.count === 0) counts[label].hits += 1;
          }
          try {
            expect(got).to.deep.equal(expected);
          } catch {
            counts.stale += 1;
            stale.push(`${label}: "${query.name}" after ${step}${transaction ? ' (inside the transaction)' : ''}`);
          }
        }
      }
    };

    await check('seeding');
    for (let step = 0; step < STEPS; step += 1) {
      const kind = r.next();
      const names = Object.keys(paths);
      if (kind < 0.25) {
        // A transaction: two writes, cached reads inside it, then commit or roll back.
        const commit = r.next() < 0.6;
        const chosen = [r.pick(names), r.pick(names)];
        const label = `transaction (${chosen.join(', ')}) ${commit ? 'committed' : 'rolled back'}`;
        counts.steps[commit ? 'transaction committed' : 'transaction rolled back'] = (counts.steps[commit ? 'transaction committed' : 'transaction rolled back'] ?? 0) + 1;
        await env.sequelize.transaction(async (t) => {
          for (const name of chosen) await paths[name]!(r, t);
          if (env.dialect !== 'sqlite') await check(label, t, [r.pick(queries), r.pick(queries), r.pick(queries)]);
          if (!commit) throw new Error('roll back');
        }).catch((error: Error & { original?: Error; sql?: string }) => {
          if (error.message !== 'roll back') throw new Error(`${label}: ${error.original?.message ?? error.message} (${error.sql})`, { cause: error });
        });
        if (commit) await baseline.keyv.clear();
        await check(label);
      } else {
        const name = r.pick(names);
        counts.steps[name] = (counts.steps[name] ?? 0) + 1;
        await paths[name]!(r);
        await baseline.keyv.clear();
        await check(name);
      }
    }
    const rate = (c: { hits: number; reads: number }) => `${((100 * c.hits) / c.reads).toFixed(1)}% (${c.hits}/${c.reads})`;
    console.log(`      [${env.dialect} + ${env.backend}] seed ${SEED}, ${STEPS} steps, ${queries.length} queries: stale ${counts.stale}; hit rate exact ${rate(counts.exact)}, invalidate-everything baseline ${rate(counts.baseline)}`);
    expect(stale, 'stale results').to.deep.equal([]);
    expect(Object.keys(counts.steps).length, 'write paths exercised').to.be.greaterThan(10);
    expect(counts.exact.hits, 'the exact cache hits more than the baseline').to.be.greaterThan(counts.baseline.hits);
  });
}, { backends: ['memory', 'redis'] });
