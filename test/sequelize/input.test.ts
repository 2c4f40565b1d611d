/**
 * Bad Sequelize dependencies are rejected with a BadDependencyError (a TypeError) naming the model
 * and the value, bad arguments of registerSequelizeHooks with an InvalidOptionError, before
 * anything is written; the cache keeps working afterwards.
 */
import { expect } from 'chai';
import { Op } from 'sequelize';
import { BadDependencyError, type CleverStore, InvalidOptionError, matching, withDependencies } from '../../lib/index.js';
import { registerSequelizeHooks, related } from '../../lib/sequelize/index.js';
import { matrix, seed } from './support.js';

matrix('bad Sequelize input', (env) => {
  /** Expects `fn` to throw (or reject with) a TypeError of class `type` whose message matches every pattern. */
  async function rejects(type: typeof BadDependencyError | typeof InvalidOptionError, fn: () => unknown, ...patterns: RegExp[]): Promise<void> {
    let error: unknown;
    try {
      await fn();
    } catch (e) {
      error = e;
    }
    expect(error, 'expected a TypeError').to.be.instanceOf(TypeError);
    expect(error, `expected a ${type.name}`).to.be.instanceOf(type);
    for (const pattern of patterns) expect((error as Error).message).to.match(pattern);
  }

  /** After a rejected call: nothing was written, an existing entry survives, and writes still invalidate. */
  async function stillWorks(key: string): Promise<void> {
    const { Post } = env.models;
    expect(await env.keyv.get(key)).to.equal(undefined);
    const [p] = await Post.findAll({ limit: 1, order: [['id', 'ASC']] });
    const [other] = await Post.findAll({ limit: 1, order: [['id', 'DESC']] });
    await env.cache({ good: [p!], other: [other!] });
    await p!.update({ title: `${String(p!.get('title'))}.` });
    await env.expectCache({ gone: ['good'], kept: ['other'] });
  }

  it('an unsaved instance (no primary key)', async () => {
    const { Post, Author } = env.models;
    await seed(env);
    const unsaved = Post.build({ title: 'draft' });
    await rejects(BadDependencyError, () => env.store.set('bad', '"v"', { dependsOn: [unsaved] }), /Post instance/, /primary key 'id'/, /unsaved/);
    await rejects(BadDependencyError, () => related(Author.build({ name: 'x' }), 'posts'), /related\(Author, 'posts'\)/, /Author instance/, /source key 'id'/);
    await rejects(BadDependencyError, () => env.store.invalidate(unsaved), /Post instance/, /unsaved/);
    await rejects(BadDependencyError, () => withDependencies([unsaved], () => 1), /Post instance/);
    const keyvErrors: Error[] = [];
    const onError = (error: Error) => keyvErrors.push(error);
    env.keyv.on('error', onError);
    try {
      expect(await env.keyv.set('bad', 'v', { dependsOn: [unsaved] })).to.equal(false); // Keyv: false + 'error'
    } finally {
      env.keyv.off('error', onError);
    }
    expect(keyvErrors.map((e) => e.message).join()).to.match(/Post instance/);
    await stillWorks('bad');
  });

  it('an unknown association alias', async () => {
    const { p1, a1 } = await seed(env);
    await rejects(BadDependencyError, () => related(p1, 'comentz'), /related\(Post, "comentz"\)/, /Post has no association/, /known: author, tags, comments/);
    await rejects(BadDependencyError, () => related(a1, ''), /related\(Author\)/, /non-empty string/);
    await rejects(BadDependencyError, () => related({ id: 1 } as never, 'posts'), /must be a Sequelize model instance/);
    await stillWorks('none');
  });

  it('a matching() field the model lacks, or a value the column cannot equal', async () => {
    const { Post, Item } = env.models;
    await seed(env);
    await rejects(BadDependencyError, () => matching(Post, { athorId: 1 }), /matching\(Post\)/, /model Post has no field "athorId"/, /authorId/);
    await rejects(BadDependencyError, () => matching(Post, { id: 'seven' }), /field 'id' of Post cannot equal "seven"/);
    await rejects(BadDependencyError, () => matching(Post, { id: undefined }), /field 'id' of Post is undefined/);
    await rejects(BadDependencyError, () => matching(Post, { id: { [Op.gt]: 1 } }), /field 'id' of Post cannot equal/);
    await rejects(BadDependencyError, () => matching(Post, { [Op.or]: [{ id: 1 }] } as never), /operators/, /Post/);
    await rejects(BadDependencyError, () => matching(Item, { meta: { a: 1 } }), /field 'meta' of Item has type JSON/);
    await rejects(BadDependencyError, () => matching(Post, { id: Number.NaN }), /field 'id' of Post cannot equal NaN/);
    await rejects(BadDependencyError, () => env.store.set('bad', '"v"', { dependsOn: [matching('posts', { id: Number.NaN })] }), /NaN/);
    await stillWorks('bad');
  });

  it('column names are accepted as the attribute they map to', async () => {
    const { Post } = env.models;
    const { a1, a2, p1 } = await seed(env);
    expect(matching(Post, { author_id: a1.get('id') })).to.deep.equal(matching(Post, { authorId: a1.get('id') }));
    await env.cache({ byColumn: [matching(Post, { author_id: a1.get('id') })], other: [matching(Post, { author_id: a2.get('id') })] });
    await p1.update({ title: 'x' });
    await env.expectCache({ gone: ['byColumn'], kept: ['other'] });
  });

  it('registerSequelizeHooks rejects what is not a Sequelize, a store or an option', async () => {
    await seed(env);
    await rejects(InvalidOptionError, () => registerSequelizeHooks({} as never, env.keyv), /must be a Sequelize instance/);
    await rejects(InvalidOptionError, () => registerSequelizeHooks(env.sequelize, {} as never), /must be a Keyv whose store is a CleverStore/);
    await rejects(InvalidOptionError, () => registerSequelizeHooks(env.sequelize, env.keyv, { prequeryLimit: -1 }), /prequeryLimit must be an integer >= 0/);
    await rejects(InvalidOptionError, () => registerSequelizeHooks(env.sequelize, env.keyv, { prequeryLimt: 5 } as never), /unknown option 'prequeryLimt'/);
    await rejects(InvalidOptionError, () => registerSequelizeHooks(env.sequelize, env.keyv, { cascades: 'yes' } as never), /cascades must be a boolean/);
    await rejects(InvalidOptionError, () => registerSequelizeHooks(env.sequelize, env.keyv, 5 as never), /options must be an object, got 5/);
    const thrown = (options: unknown) => {
      try {
        registerSequelizeHooks(env.sequelize, env.keyv, options as never).unregister();
      } catch (error) {
        return error as InvalidOptionError;
      }
      throw new Error(`registerSequelizeHooks accepted ${JSON.stringify(options)}`);
    };
    const unknown = thrown({ prequeryLimt: 5 });
    expect(unknown).to.include({ option: 'prequeryLimt', value: 5 });
    expect(unknown.message).to.equal("registerSequelizeHooks(): unknown option 'prequeryLimt' (known: prequeryLimit, maxRowImages, cascades, safetyNet, rawQueries, cacheQueries)");
    const tooSmall = thrown({ cascades: false, maxRowImages: 0 });
    expect(tooSmall).to.include({ option: 'maxRowImages', value: 0 });
    expect(tooSmall.message).to.equal('registerSequelizeHooks(): maxRowImages must be an integer >= 1, got 0');
    // A CleverStore directly is fine.
    const hooks = registerSequelizeHooks(env.sequelize, env.store as CleverStore);
    hooks.unregister();
    await stillWorks('none');
  });
}, { backends: ['memory'] });
