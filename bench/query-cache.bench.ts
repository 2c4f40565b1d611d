/**
 * Query caching on PostgreSQL with a Redis-backed store: a cached `findAll` with includes
 * (posts of one author, each with its author and tags), in alternating rounds in one process:
 * - uncached: `Post.findAll(query)`;
 * - hit: `cached(Post).findAll(query)` served from Redis and rebuilt into instances;
 * - miss: a query no entry exists for (the query, encoding, capture and guarded write), against
 *   the same query uncached.
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and REDIS_URL (db 3) can be set.
 */
import Keyv from 'keyv';
import { DataTypes, Op, type Model, type ModelStatic } from 'sequelize';
import { closeSequelize, openSequelize } from '../test/support/sequelize.js';
import { REDIS_URL, alternate, latencies, median, percentile, printTable, ratio, type Cell } from './common.js';
import { defineBlog } from './blog.js';
import { pkg, pkgSequelize } from './package.js';

const { CleverStore } = pkg;
const { cached, registerSequelizeHooks } = pkgSequelize;

const ROUNDS = 20;
const ROUND_MS = 150;
const AUTHORS = 50;
const POSTS_PER_AUTHOR = 20;
const TAGS = 30;

export default async function run(): Promise<void> {
  const sequelize = await openSequelize('postgres');
  const store = new CleverStore(REDIS_URL, { sweepInterval: 0 });
  const keyv = new Keyv({ store, namespace: `bench-query-cache-${process.pid}` });
  const hooks = registerSequelizeHooks(sequelize, keyv);
  try {
    const { Author, Post } = defineBlog(sequelize);
    const Tag: ModelStatic<Model> = sequelize.define('Tag', { name: DataTypes.STRING }, { tableName: 'tags' });
    const PostTag = sequelize.define('PostTag', {}, { tableName: 'post_tags', timestamps: false });
    Post.belongsToMany(Tag, { through: PostTag, as: 'tags', foreignKey: 'postId', otherKey: 'tagId' });
    await sequelize.sync();
    const authors = await Author.bulkCreate(Array.from({ length: AUTHORS }, (_, i) => ({ name: `author ${i}` })));
    const tags = await Tag.bulkCreate(Array.from({ length: TAGS }, (_, i) => ({ name: `tag ${i}` })));
    const posts = await Post.bulkCreate(authors.flatMap((a, i) => Array.from({ length: POSTS_PER_AUTHOR }, (_, j) => ({ title: `post ${i}.${j}`, authorId: a.get('id') }))));
    await PostTag.bulkCreate(posts.flatMap((p, i) => [{ postId: p.get('id'), tagId: tags[i % TAGS]!.get('id') }, { postId: p.get('id'), tagId: tags[(i * 7 + 3) % TAGS]!.get('id') }]));
    await keyv.clear();

    const query = (i: number) => ({ where: { authorId: authors[i % AUTHORS]!.get('id') }, include: ['author', 'tags'], order: [['id', 'ASC'], ['tags', 'id', 'ASC']] as never });
    const c = cached(Post);
    for (let i = 0; i < AUTHORS; i += 1) await c.findAll(query(i)); // every entry cached once
    const uncached = (i: number) => Post.findAll(query(i));
    const hit = (i: number) => c.findAll(query(i));
    // A miss every call: a condition true of every row but new each time gives a new key.
    let fresh = 0;
    const missQuery = (i: number) => ({ ...query(i), where: { authorId: authors[i % AUTHORS]!.get('id'), views: { [Op.gte]: -1 - (fresh += 1) } } });
    const uncachedLikeMiss = (i: number) => Post.findAll(missQuery(i));
    const miss = (i: number) => c.findAll(missQuery(i));

    const timed = (op: (i: number) => Promise<unknown>) => () => latencies(op, ROUND_MS);
    const [plain, hits, plainMiss, misses] = await alternate([timed(uncached), timed(hit), timed(uncachedLikeMiss), timed(miss)], ROUNDS) as number[][][];
    const m = (rounds: number[][]) => median(rounds.map(median)) / 1000;
    const p95 = (rounds: number[][]) => percentile(rounds.flat(), 95) / 1000;
    const rows: Cell[][] = [
      ['uncached findAll', m(plain!).toFixed(3), p95(plain!).toFixed(3), '1.00x', plain!.flat().length],
      ['cached, hit', m(hits!).toFixed(3), p95(hits!).toFixed(3), ratio(m(hits!) / m(plain!)), hits!.flat().length],
      ['uncached findAll, range condition added', m(plainMiss!).toFixed(3), p95(plainMiss!).toFixed(3), '1.00x', plainMiss!.flat().length],
      ['cached, miss (same query)', m(misses!).toFixed(3), p95(misses!).toFixed(3), ratio(m(misses!) / m(plainMiss!)), misses!.flat().length],
    ];
    printTable(
      `Cached findAll with include (${POSTS_PER_AUTHOR} posts of one author, each with author and 2 tags) on PostgreSQL, Redis store, sequential`,
      ['call', 'median ms', 'p95 ms', 'vs uncached', 'calls'],
      rows,
      [
        `${ROUNDS} alternating rounds (${ROUND_MS} ms each per side), median of per-round medians`,
        'hit = one GET + the hash of the options + rebuilding the instances; no query',
        'miss = GET, capture, the query, the result encoded, the guarded set; compared with the same query uncached',
      ],
    );
  } finally {
    hooks.unregister();
    await keyv.clear();
    await store.disconnect();
    await closeSequelize(sequelize);
  }
}
