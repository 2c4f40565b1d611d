/**
 * registerSequelizeHooks: what it adds, what unregister() removes, and registrations side by side.
 */
import { expect } from 'chai';
import Keyv from 'keyv';
import { DataTypes, type Sequelize } from 'sequelize';
import { BadDependencyError, matching, type CleverStore } from '../../lib/index.js';
import { registerSequelizeHooks, related } from '../../lib/sequelize/index.js';
import { closeSequelize, defineModels, DIALECTS, matrix, openSequelize, openStore, seed, unique, type BackendKind, type Dialect } from './support.js';

/** Our hooks on a Sequelize instance, by type, recognised by their registration name. */
/** The hook types a registration (or any, without `name`) holds on the instance and on its models. */
function ourHooks(sequelize: Sequelize, name?: string): string[] {
  type Hooks = Record<string, Array<{ name?: string } | ((...a: unknown[]) => unknown)>>;
  const found = new Set<string>();
  for (const hooked of [sequelize, ...Object.values(sequelize.models)] as unknown as Array<{ options: { hooks?: Hooks } }>) {
    for (const [type, list] of Object.entries(hooked.options.hooks ?? {})) {
      for (const hook of list ?? []) {
        const hookName = typeof hook === 'object' ? hook.name : undefined;
        if (hookName?.startsWith('keyv-clever:') && (name === undefined || hookName === name)) found.add(type);
      }
    }
  }
  return [...found].sort();
}

matrix('registerSequelizeHooks / unregister', (env) => {
  it('adds its hooks under one unique name, never afterSave, and unregister() removes exactly them', async () => {
    const { a1, a2, p1, p2 } = await seed(env);
    const userHook = () => undefined;
    env.sequelize.addHook('afterUpdate', 'user-hook', userHook);
    const second = registerSequelizeHooks(env.sequelize, env.keyv);
    try {
      expect(second.name).to.not.equal(env.hooks.name);
      const types = ourHooks(env.sequelize, second.name);
      expect(types).to.include.members(['afterCreate', 'afterUpdate', 'afterDestroy', 'afterRestore', 'afterBulkCreate', 'afterBulkUpdate', 'afterBulkDestroy', 'afterBulkRestore', 'afterUpsert', 'afterQuery']);
      expect(types).to.not.include('afterSave');
      expect(ourHooks(env.sequelize, env.hooks.name)).to.deep.equal(types);
      second.unregister();
      second.unregister(); // safe twice
      expect(ourHooks(env.sequelize, second.name)).to.deep.equal([]);
      expect(ourHooks(env.sequelize, env.hooks.name)).to.deep.equal(types); // the other registration stays
      env.hooks.unregister();
      env.hooks.unregister();
      expect(ourHooks(env.sequelize)).to.deep.equal([]);
      const remaining = (env.sequelize as unknown as { options: { hooks: Record<string, unknown[]> } }).options.hooks.afterUpdate ?? [];
      expect(remaining).to.have.length(1); // the user's hook is left alone

      // Writes after unregister invalidate nothing, on any path.
      await env.cache({ p1: [p1], a1posts: [related(a1, 'posts')], p2: [p2], a2posts: [related(a2, 'posts')] });
      await p1.update({ title: 'unhooked' });
      await env.models.Post.update({ authorId: a2.get('id') }, { where: { id: p2.get('id') } });
      await p2.increment('views');
      await env.sequelize.transaction(async (transaction) => {
        await env.models.Post.create({ title: 'tx', authorId: a1.get('id') }, { transaction });
      });
      await env.expectCache({ kept: ['p1', 'a1posts', 'p2', 'a2posts'] });

      // …and registering again brings invalidation back.
      env.hooks = registerSequelizeHooks(env.sequelize, env.keyv);
      await p1.update({ title: 'hooked again' });
      await env.expectCache({ gone: ['p1', 'a1posts'], kept: ['p2', 'a2posts'] });
    } finally {
      second.unregister();
      env.sequelize.removeHook('afterUpdate', 'user-hook');
    }
  });

  it('covers models defined after registration', async () => {
    const Late = env.sequelize.define('Late', { name: DataTypes.STRING }, { tableName: unique('late').toLowerCase() });
    await Late.sync({ force: true });
    try {
      const l1 = await Late.create({ name: 'l1' });
      const l2 = await Late.create({ name: 'l2' });
      await env.cache({ l1: [l1], l2: [l2], byName: [matching(Late, { name: 'l1' })] });
      await l1.update({ name: 'changed' });
      await env.expectCache({ gone: ['l1', 'byName'], kept: ['l2'] });
    } finally {
      await Late.drop();
      env.sequelize.modelManager.removeModel(Late);
    }
  });

  it('two stores registered on one Sequelize are both invalidated', async () => {
    const { a1, p1, p2 } = await seed(env);
    const other = new Keyv({ store: env.store, namespace: unique('kc-other') });
    const hooks = registerSequelizeHooks(env.sequelize, other);
    try {
      await env.cache({ p1: [p1], p2: [p2] });
      await other.set('p1', 'v', { dependsOn: [p1, related(a1, 'posts')] });
      await other.set('p2', 'v', { dependsOn: [p2] });
      await p1.update({ title: 'both' });
      await env.expectCache({ gone: ['p1'], kept: ['p2'] });
      expect([await other.get('p1'), await other.get('p2')]).to.deep.equal([undefined, 'v']);
    } finally {
      hooks.unregister();
      await other.clear();
    }
  });
});

/** Two Sequelize instances (same model names, same table names) with two stores, side by side. */
for (const [dialect, backend] of ([['sqlite', 'memory'], ['sqlite', 'redis'], ['postgres', 'memory'], ['postgres', 'redis']] as Array<[Dialect, BackendKind]>).filter(([d]) => DIALECTS.includes(d))) {
  describe(`two Sequelize instances and two stores side by side [${dialect} + ${backend}]`, function () {
    this.timeout(30_000);
    const sides: Array<{ sequelize: Sequelize; keyv: Keyv; models: ReturnType<typeof defineModels>; unregister(): void }> = [];
    before(async () => {
      for (let i = 0; i < 2; i++) {
        const sequelize = await openSequelize(dialect);
        const models = defineModels(sequelize);
        await sequelize.sync();
        const keyv = new Keyv({ store: openStore(backend), namespace: unique('kc-side') });
        sides.push({ sequelize, keyv, models, ...registerSequelizeHooks(sequelize, keyv) });
      }
    });
    after(async () => {
      for (const side of sides) {
        side.unregister();
        await side.keyv.clear();
        await (side.keyv.store as { disconnect(): Promise<void> }).disconnect();
        await closeSequelize(side.sequelize);
      }
    });

    it('a write through one instance invalidates its own store only', async () => {
      const [A, B] = sides as [typeof sides[0], typeof sides[0]];
      const pa = await A.models.Post.create({ title: 'same' });
      const pb = await B.models.Post.create({ title: 'same' });
      expect(pa.get('id')).to.equal(pb.get('id')); // same table name, same id: the tags are the same too
      for (const side of [A, B]) {
        const post = side === A ? pa : pb;
        await side.keyv.set('post', 'v', { dependsOn: [post] });
        await side.keyv.set('table', 'v', { dependsOn: [side.models.Post] });
        await side.keyv.set('authors', 'v', { dependsOn: [side.models.Author] });
      }
      await pa.update({ title: 'changed in A' });
      expect([await A.keyv.get('post'), await A.keyv.get('table'), await A.keyv.get('authors')]).to.deep.equal([undefined, undefined, 'v']);
      expect([await B.keyv.get('post'), await B.keyv.get('table'), await B.keyv.get('authors')]).to.deep.equal(['v', 'v', 'v']);
      await B.models.Post.update({ title: 'changed in B' }, { where: { id: pb.get('id') } });
      expect([await B.keyv.get('post'), await B.keyv.get('table'), await B.keyv.get('authors')]).to.deep.equal([undefined, undefined, 'v']);
      expect(await A.keyv.get('authors')).to.equal('v');
    });

    it('a dependency on a model of an unregistered Sequelize instance is rejected while others are registered', async () => {
      const [A] = sides as [typeof sides[0]];
      const stray = await openSequelize(dialect);
      try {
        const models = defineModels(stray);
        await A.keyv.set('kept', 'v', { dependsOn: [A.models.Post] });
        expect(() => matching(models.Post, { id: 1 })).to.throw(BadDependencyError, /model Post belongs to a Sequelize instance that has no registerSequelizeHooks\(\) registration/);
        const store = A.keyv.store as CleverStore;
        let error: unknown;
        await store.set('stray', '"v"', { dependsOn: [models.Post] }).catch((e: unknown) => { error = e; });
        expect(error).to.be.instanceOf(BadDependencyError).and.to.include({ where: 'dependsOn', value: models.Post });
        expect((error as Error).message).to.match(/model Post/);
        expect(await A.keyv.get('stray')).to.equal(undefined);
        // Once registered, it is accepted.
        const hooks = registerSequelizeHooks(stray, A.keyv);
        try {
          expect(matching(models.Post, { id: 1 }).table).to.equal('posts');
        } finally {
          hooks.unregister();
        }
        expect(await A.keyv.get('kept')).to.equal('v');
      } finally {
        await closeSequelize(stray);
      }
    });
  });
}
