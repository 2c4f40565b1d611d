import { expect } from 'chai';
import Keyv from 'keyv';
import { DataTypes, type Model, type ModelStatic, type Sequelize, type Transaction } from 'sequelize';
import { type CleverStore, getOrSet, type Dependency } from '../lib/index.js';
import { registerSequelizeHooks, related, type SequelizeHooks } from '../lib/sequelize/index.js';
import { backends, sleep, uniqueNamespace } from './support/backends.js';
import { gatedLoader } from './support/gated-loader.js';
import { closeSequelize, openSequelize } from './support/sequelize.js';

type Row = Model & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface World {
  sequelize: Sequelize;
  store: CleverStore;
  keyv: Keyv;
  Author: ModelStatic<Row>;
  Post: ModelStatic<Row>;
  hooks: SequelizeHooks;
  close(): Promise<void>;
}

async function openWorld(dialect: 'sqlite' | 'postgres', makeStore: () => CleverStore): Promise<World> {
  const sequelize = await openSequelize(dialect, { pool: { max: 12 } });
  const id = { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true };
  const Author = sequelize.define('Author', { id, name: DataTypes.STRING }, { tableName: 'authors' }) as ModelStatic<Row>;
  const Post = sequelize.define('Post', { id, title: DataTypes.STRING, version: DataTypes.INTEGER, authorId: DataTypes.INTEGER }, { tableName: 'posts' }) as ModelStatic<Row>;
  Author.hasMany(Post, { as: 'posts', foreignKey: 'authorId' });
  await sequelize.sync(); // a fresh database or schema: no force (its drop step trips over other schemas' foreign keys)
  const store = makeStore();
  const keyv = new Keyv({ store, namespace: uniqueNamespace('consistency') });
  const hooks = registerSequelizeHooks(sequelize, keyv);
  return {
    sequelize, store, keyv, Author, Post, hooks,
    async close() {
      hooks.unregister();
      await keyv.clear();
      await store.disconnect();
      await closeSequelize(sequelize);
    },
  };
}

/**
 * Runs the same interleaving twice: once with the naive read-then-set, once with getOrSet. The
 * loader reads, then `write` commits while the loader is paused, then the loader returns.
 * Returns what the cache holds afterwards in each case.
 */
async function race(world: World, read: () => Promise<unknown>, dependsOn: Dependency[], write: () => Promise<unknown>) {
  const naive = gatedLoader(read);
  const naiveDone = (async () => {
    if ((await world.keyv.get('naive')) === undefined) await world.keyv.set('naive', await naive.load(), { dependsOn });
  })();
  await naive.atGate;
  await write();
  naive.release();
  await naiveDone;
  const naiveHolds = await world.keyv.get('naive');

  // The second run races against a second write of the same kind.
  const safe = gatedLoader(read);
  const loaded = getOrSet(world.keyv, 'safe', safe.load, { dependsOn });
  await safe.atGate;
  await write();
  safe.release();
  await loaded;
  return { naive: naiveHolds, safe: await world.keyv.get('safe'), fresh: await read() };
}

const matrix: Array<['sqlite' | 'postgres', string]> = [
  ['sqlite', 'memory'], ['sqlite', 'redis'], ['postgres', 'memory'], ['postgres', 'redis'], ['postgres', 'cluster'],
];

for (const [dialect, backendName] of matrix) {
  const backend = backends.find((b) => b.name === backendName)!;
  describe(`no stale write-back: deterministic interleavings (${dialect}, ${backendName})`, function () {
    this.timeout(30_000);
    let world: World;
    beforeEach(async () => {
      world = await openWorld(dialect, () => backend.store());
    });
    afterEach(async () => { await world.close(); });

    it('an update commits while the value loads', async () => {
      const post = await world.Post.create({ title: 'v0', version: 0 });
      let n = 0;
      const result = await race(world, async () => (await world.Post.findByPk(post.id))!.title, [post], () => post.update({ title: `v${++n}` }));
      expect(result.naive).to.equal('v0'); // stale: the race is real
      expect(result.safe).to.equal(undefined); // refused
      expect(result.fresh).to.equal('v2');
    });

    it('a delete commits while the value loads', async () => {
      const posts = [await world.Post.create({ title: 'a', version: 0 }), await world.Post.create({ title: 'b', version: 0 })];
      const read = async () => (await world.Post.findAll({ order: [['id', 'ASC']] })).map((p) => p.title);
      let i = 0;
      const result = await race(world, read, [world.Post], () => posts[i++]!.destroy());
      expect(result.naive).to.deep.equal(['a', 'b']);
      expect(result.safe).to.equal(undefined);
      expect(result.fresh).to.deep.equal([]);
    });

    it("a post moves to another author while that author's related() list loads", async () => {
      const [ada, linus] = [await world.Author.create({ name: 'ada' }), await world.Author.create({ name: 'linus' })];
      const posts = [await world.Post.create({ title: 'p1', authorId: ada.id, version: 0 }), await world.Post.create({ title: 'p2', authorId: ada.id, version: 0 })];
      const read = async () => (await world.Post.findAll({ where: { authorId: linus.id }, order: [['id', 'ASC']] })).map((p) => p.title);
      let i = 0;
      const result = await race(world, read, [related(linus, 'posts')], () => posts[i++]!.update({ authorId: linus.id }));
      expect(result.naive).to.deep.equal([]);
      expect(result.safe).to.equal(undefined);
      expect(result.fresh).to.deep.equal(['p1', 'p2']);
    });

    if (dialect === 'postgres') {
      // SQLite shares one connection between transactions and plain reads; PostgreSQL isolates them.
      it('a transaction that commits while the value loads', async () => {
        const post = await world.Post.create({ title: 'v0', version: 0 });
        let n = 0;
        const result = await race(world, async () => (await world.Post.findByPk(post.id))!.title, [post], async () => {
          const t = await world.sequelize.transaction();
          await post.update({ title: `v${++n}` }, { transaction: t });
          await t.commit();
        });
        expect(result.naive).to.equal('v0');
        expect(result.safe).to.equal(undefined);
        expect(result.fresh).to.equal('v2');
      });

      it('a value computed inside a transaction that rolls back is never stored', async () => {
        const post = await world.Post.create({ title: 'committed', version: 0 });
        // Naive: read inside the writing transaction, store, roll back: the cache holds data that never existed.
        let t: Transaction = await world.sequelize.transaction();
        await post.update({ title: 'uncommitted' }, { transaction: t });
        const seen = (await world.Post.findByPk(post.id, { transaction: t }))!.title;
        await world.keyv.set('naive', seen, { dependsOn: [post] });
        await t.rollback();
        expect(await world.keyv.get('naive')).to.equal('uncommitted');
        await post.reload(); // the instance still holds the rolled-back title

        t = await world.sequelize.transaction();
        await post.update({ title: 'uncommitted' }, { transaction: t });
        let value: unknown;
        try {
          value = await getOrSet(world.keyv, 'safe', async () => (await world.Post.findByPk(post.id, { transaction: t }))!.title, { dependsOn: [post], transaction: t });
        } finally {
          await t.rollback();
        }
        expect(value).to.equal('uncommitted'); // the caller gets what its transaction sees
        expect(await world.keyv.get('safe')).to.equal(undefined);
        // Outside the transaction the committed value is cached as usual.
        expect(await getOrSet(world.keyv, 'safe', async () => (await world.Post.findByPk(post.id))!.title, { dependsOn: [post] })).to.equal('committed');
        expect(await world.keyv.get('safe')).to.equal('committed');
      });

      it('a transaction that rolls back while the value loads does not refuse the write', async () => {
        const post = await world.Post.create({ title: 'kept', version: 0 });
        const gate = gatedLoader(async () => (await world.Post.findByPk(post.id))!.title);
        const loaded = getOrSet(world.keyv, 'k', gate.load, { dependsOn: [post] });
        await gate.atGate;
        const t = await world.sequelize.transaction();
        await post.update({ title: 'never' }, { transaction: t });
        await t.rollback();
        gate.release();
        expect(await loaded).to.equal('kept');
        expect(await world.keyv.get('k')).to.equal('kept');
      });
    }
  });
}

for (const backendName of ['redis', 'cluster']) describe(`randomized concurrent checker (PostgreSQL + ${backendName}): no stale read through getOrSet`, function () {
  this.timeout(120_000);
  let world: World;
  before(async () => { world = await openWorld('postgres', () => backends.find((b) => b.name === backendName)!.store()); });
  after(async () => { await world.close(); });

  it('counts stale reads after committed writes: 0 for getOrSet, more than 0 for read-then-set', async () => {
    const ROWS = 5;
    const rows = await world.Post.bulkCreate(Array.from({ length: ROWS }, (_, i) => ({ title: `p${i}`, version: 0 })));
    const ids = rows.map((r) => r.id as number);
    // committed[id]: the newest version whose commit has returned, and when it returned.
    const committed = new Map<number, Array<{ version: number; at: number }>>(ids.map((id) => [id, [{ version: 0, at: 0 }]]));
    const versionAt = (id: number, t: number) => {
      const history = committed.get(id)!;
      let v = 0;
      for (const h of history) if (h.at <= t) v = Math.max(v, h.version);
      return v;
    };
    const counts = { getOrSet: { reads: 0, stale: 0 }, naive: { reads: 0, stale: 0 }, writes: 0 };
    const deadline = Date.now() + 8_000;
    const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
    const load = async (id: number) => {
      const version = (await world.Post.findByPk(id))!.version as number;
      await sleep(Math.random() * 6); // widen the window between the read and the cache write
      return version;
    };

    const writer = async () => {
      while (Date.now() < deadline && counts.writes < 1500) {
        const id = pick();
        const t = await world.sequelize.transaction();
        const post = (await world.Post.findByPk(id, { transaction: t, lock: true }))!;
        const version = (post.version as number) + 1;
        await post.update({ version }, { transaction: t });
        await t.commit(); // the hooks invalidate in afterCommit, before commit() returns
        committed.get(id)!.push({ version, at: performance.now() });
        counts.writes++;
        await sleep(Math.random() * 4);
      }
    };
    const reader = async (kind: 'getOrSet' | 'naive') => {
      while (Date.now() < deadline) {
        const id = pick();
        const started = performance.now();
        const post = world.Post.build({ id, version: 0 }, { isNewRecord: false });
        let version: number;
        if (kind === 'getOrSet') {
          version = await getOrSet(world.keyv, `g:${id}`, () => load(id), { dependsOn: [post] });
        } else {
          const cached = await world.keyv.get(`n:${id}`);
          if (cached !== undefined) version = cached as number;
          else {
            version = await load(id);
            await world.keyv.set(`n:${id}`, version, { dependsOn: [post] });
          }
        }
        counts[kind].reads++;
        if (version < versionAt(id, started)) counts[kind].stale++;
      }
    };
    await Promise.all([writer(), writer(), writer(), ...Array.from({ length: 4 }, () => reader('getOrSet')), ...Array.from({ length: 4 }, () => reader('naive'))]);
    console.log(`      ${counts.writes} writes; getOrSet: ${counts.getOrSet.stale} stale of ${counts.getOrSet.reads} reads; read-then-set: ${counts.naive.stale} stale of ${counts.naive.reads} reads`);
    expect(counts.writes).to.be.greaterThan(100);
    expect(counts.getOrSet.reads).to.be.greaterThan(500);
    expect(counts.getOrSet.stale).to.equal(0);
    expect(counts.naive.stale).to.be.greaterThan(0); // the checker can see staleness
  });
});
