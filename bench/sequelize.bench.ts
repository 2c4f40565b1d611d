/**
 * Sequelize write overhead of registerSequelizeHooks on PostgreSQL with a Redis-backed store:
 * the same writes with the hooks registered and without, measured side by side in alternating
 * rounds in one process (the hooks are registered / unregistered between rounds).
 *
 * - instance.save() of one changed row
 * - Model.create
 * - Model.update of 1 row (by primary key) and of 1000 rows (by a foreign key)
 *
 * With the hooks, every write also invalidates in Redis before its promise resolves (one script
 * call); Model.update adds its pre-query of the rows it touches (one SELECT, same transaction).
 * The store holds 3,000 entries over the three schemes a blog would use (post by id, posts by
 * author, posts by status), so invalidation builds real conjunction tags.
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and REDIS_URL (db 3) can be set.
 */
import { performance } from 'node:perf_hooks';
import Keyv from 'keyv';
import { DataTypes, type Model, type ModelStatic } from 'sequelize';
import { CleverStore, matching } from '../lib/index.js';
import { registerSequelizeHooks, related, type SequelizeHooks, type SequelizeHooksOptions } from '../lib/sequelize/index.js';
import { closeSequelize, openSequelize } from '../test/support/sequelize.js';
import { REDIS_URL, alternate, latencies, median, percentile, printTable, ratio, type Cell, type Op } from './common.js';

const ROUNDS = 30; // alternating rounds per side (short rounds: bursty background load hits both sides alike)
const ROUND_MS = 150; // per operation, per round
const BULK_ROWS = 1000;
const AUTHORS = 100;
const POSTS = 2000;

export default async function run(): Promise<void> {
  const sequelize = await openSequelize('postgres');
  const store = new CleverStore(REDIS_URL, { sweepInterval: 0 });
  const keyv = new Keyv({ store, namespace: `bench-sequelize-${process.pid}` });
  let hooks: SequelizeHooks | undefined;
  try {
    const Author: ModelStatic<Model> = sequelize.define('Author', { name: DataTypes.STRING }, { tableName: 'authors' });
    const Post: ModelStatic<Model> = sequelize.define('Post', {
      title: { type: DataTypes.STRING, allowNull: false },
      status: { type: DataTypes.STRING, allowNull: false, defaultValue: 'draft' },
      views: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    }, { tableName: 'posts' });
    Author.hasMany(Post, { as: 'posts', foreignKey: 'authorId' });
    Post.belongsTo(Author, { as: 'author', foreignKey: 'authorId' });
    await sequelize.sync();
    const authors = await Author.bulkCreate(Array.from({ length: AUTHORS + 1 }, (_, i) => ({ name: `author ${i}` })));
    const bulkAuthor = authors[AUTHORS]!; // owns exactly BULK_ROWS posts
    await Post.bulkCreate(Array.from({ length: POSTS }, (_, i) => ({ title: `post ${i}`, authorId: authors[i % AUTHORS]!.get('id'), status: i % 2 ? 'published' : 'draft' })));
    await Post.bulkCreate(Array.from({ length: BULK_ROWS }, (_, i) => ({ title: `bulk ${i}`, authorId: bulkAuthor.get('id') })));
    const posts = await Post.findAll({ where: { authorId: authors.slice(0, AUTHORS).map((a) => a.get('id') as number) }, order: [['id', 'ASC']] });

    // Cached entries on three schemes: post by id, posts by author, posts by status.
    await keyv.clear();
    const fill = async () => {
      await keyv.setMany(posts.slice(0, 1000).map((p, i) => ({ key: `post:${i}`, value: 'v', ttl: { dependsOn: [p] } })));
      await keyv.setMany(authors.map((a, i) => ({ key: `author:${i}:posts`, value: 'v', ttl: { dependsOn: [related(a, 'posts')] } })));
      await keyv.set('published', 'v', { dependsOn: [matching(Post, { status: 'published' })] });
    };
    await fill();

    const target = posts[0]!;
    const batch = posts.slice(600, 610);
    // Targets (hooks on/off, at most): single-row writes 1.25x, a transaction of 10 saves 1.2x, the 1000-row update 3x.
    const targets: Record<string, number> = {
      'instance.save() (1 row)': 1.25, 'Model.create': 1.25, 'Model.update, 1 row': 1.25,
      [`Model.update, ${BULK_ROWS} rows`]: 3, 'transaction of 10 instance.save()': 1.2,
    };
    const ops: Array<[string, Op, SequelizeHooksOptions?]> = [
      ['instance.save() (1 row)', async (i) => {
        target.set('title', `saved ${i}`);
        await target.save();
      }],
      ['Model.create', async (i) => Post.create({ title: `created ${i}`, authorId: authors[i % AUTHORS]!.get('id') })],
      ['Model.update, 1 row', async (i) => Post.update({ views: i }, { where: { id: posts[1 + (i % 500)]!.get('id') } })],
      ['Model.update, 1 row (prequeryLimit: 0)', async (i) => Post.update({ views: i }, { where: { id: posts[1 + (i % 500)]!.get('id') } }), { prequeryLimit: 0 }],
      [`Model.update, ${BULK_ROWS} rows`, async (i) => Post.update({ views: i }, { where: { authorId: bulkAuthor.get('id') } })],
      ['transaction of 10 instance.save()', async (i) => sequelize.transaction(async (transaction) => {
        for (const p of batch) {
          p.set('views', i);
          await p.save({ transaction });
        }
      })],
    ];

    const rows: Cell[][] = [];
    let counter = 0;
    for (const [label, op, hookOptions] of ops) {
      const ms = label.includes(`${BULK_ROWS} rows`) || label.startsWith('transaction') ? ROUND_MS * 2 : ROUND_MS;
      const side = (on: boolean) => async () => {
        if (on) hooks = registerSequelizeHooks(sequelize, keyv, hookOptions);
        try {
          const lat = await latencies(op, ms, counter);
          counter += lat.length;
          return lat;
        } finally {
          hooks?.unregister();
          hooks = undefined;
          if (on) await fill(); // the writes invalidated entries: put them back for the next round
        }
      };
      const [off, on] = await alternate([side(false), side(true)], ROUNDS, [side(false), side(true)]) as [number[][], number[][]];
      const offMedian = median(off.map(median));
      const onMedian = median(on.map(median));
      const allOff = off.flat();
      const allOn = on.flat();
      const target = targets[label];
      rows.push([label, (offMedian / 1000).toFixed(3), (onMedian / 1000).toFixed(3), ratio(onMedian / offMedian),
        (percentile(allOff, 95) / 1000).toFixed(3), (percentile(allOn, 95) / 1000).toFixed(3), allOff.length + allOn.length,
        target ? `<= ${target}x` : '-', target ? (onMedian / offMedian <= target ? 'yes' : 'NO') : '-']);
    }
    // The floor of an awaited invalidation: one Redis round trip, measured on the store's connection.
    const client = store.client!;
    const rtts: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      await client.ping();
      rtts.push((performance.now() - t0) * 1000);
    }
    const rtt = median(rtts) / 1000;
    const saveOff = Number(rows[0]![1]);
    printTable(
      'Sequelize write overhead on PostgreSQL, hooks on vs off (Redis store), sequential, median of per-round medians',
      ['write', 'off ms', 'on ms', 'on/off', 'off p95 ms', 'on p95 ms', 'writes', 'target', 'met'],
      rows,
      [
        `${ROUNDS} alternating rounds per side (${ROUND_MS} ms each; ${ROUND_MS * 2} ms for the ${BULK_ROWS}-row update and the transaction), one write in flight`,
        'prequeryLimit: 0 = no pre-query: the where\'s equalities and the new values, other schemes of the table fall back to all their entries',
        'transaction: one invalidation at commit for the 10 writes',
        'on = the write + its invalidation in Redis (awaited before the write resolves) + the pre-query of Model.update',
        `one Redis round trip (PING) on this machine: ${rtt.toFixed(3)} ms median, so an awaited invalidation costs at least ${ratio((saveOff + rtt) / saveOff)} on instance.save()`,
      ],
    );
  } finally {
    hooks?.unregister();
    await keyv.clear().catch(() => undefined);
    await store.disconnect();
    await closeSequelize(sequelize);
  }
}
