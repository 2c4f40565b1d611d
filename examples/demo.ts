// npm run demo — keyv-clever in one screen: a small blog in Sequelize whose cached reads are
// invalidated exactly, at commit time, by the hooks. Runs on the embedded store and SQLite in
// memory; set REDIS_URL and/or DATABASE_URL to run it on Redis and PostgreSQL.
import Keyv from 'keyv';
import { DataTypes, Sequelize, type Model, type ModelStatic } from 'sequelize';
import { CleverStore, getOrSet, matching, type Dependency } from '../lib/index.js';
import { cached, registerSequelizeHooks, related } from '../lib/sequelize/index.js';

const sequelize = process.env.DATABASE_URL
  ? new Sequelize(process.env.DATABASE_URL, { logging: false })
  : new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
const store = process.env.REDIS_URL ? new CleverStore(process.env.REDIS_URL) : new CleverStore();
const keyv = new Keyv({ store, namespace: 'demo' });

type Row = Model & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const id = { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true };
const Author = sequelize.define('Author', { id, name: DataTypes.STRING }, { tableName: 'demo_authors' }) as ModelStatic<Row>;
const Post = sequelize.define('Post', { id, title: DataTypes.STRING, status: DataTypes.STRING, authorId: DataTypes.INTEGER }, { tableName: 'demo_posts' }) as ModelStatic<Row>;
const Tag = sequelize.define('Tag', { id, name: DataTypes.STRING }, { tableName: 'demo_tags' }) as ModelStatic<Row>;
const PostTag = sequelize.define('PostTag', {}, { tableName: 'demo_post_tags', timestamps: false }) as ModelStatic<Row>;
const Comment = sequelize.define('Comment', { id, body: DataTypes.STRING, postId: DataTypes.INTEGER }, { tableName: 'demo_comments' }) as ModelStatic<Row>;
Author.hasMany(Post, { as: 'posts', foreignKey: 'authorId' });
Post.belongsTo(Author, { as: 'author', foreignKey: 'authorId' });
Post.belongsToMany(Tag, { as: 'tags', through: PostTag, foreignKey: 'postId', otherKey: 'tagId' });
Tag.belongsToMany(Post, { as: 'posts', through: PostTag, foreignKey: 'tagId', otherKey: 'postId' });
Post.hasMany(Comment, { as: 'comments', foreignKey: 'postId' });

await sequelize.sync({ force: true });
await keyv.clear();
const hooks = registerSequelizeHooks(sequelize, keyv);

const ada = await Author.create({ name: 'Ada' });
const linus = await Author.create({ name: 'Linus' });
const engines = await Post.create({ title: 'Engines', status: 'published', authorId: ada.id });
const notes = await Post.create({ title: 'Notes', status: 'draft', authorId: ada.id });
const kernels = await Post.create({ title: 'Kernels', status: 'published', authorId: linus.id });
const [history, systems] = [await Tag.create({ name: 'history' }), await Tag.create({ name: 'systems' })];
await engines.addTags([history, systems]);
await kernels.addTags([systems]);
await Comment.create({ body: 'Lovely', postId: engines.id });

// The cached reads: each is computed by a query and depends on what that query read.
const reads: Array<{ key: string; shows: string; load: () => Promise<unknown>; dependsOn: Dependency[] }> = [
  { key: 'author:ada', shows: 'instance ada', load: () => Author.findByPk(ada.id), dependsOn: [ada] },
  { key: 'author:ada:posts', shows: "related(ada, 'posts')", load: () => Post.findAll({ where: { authorId: ada.id } }), dependsOn: [related(ada, 'posts')] },
  { key: 'author:linus:posts', shows: "related(linus, 'posts')", load: () => Post.findAll({ where: { authorId: linus.id } }), dependsOn: [related(linus, 'posts')] },
  { key: 'posts:published', shows: "matching(Post, {status:'published'})", load: () => Post.findAll({ where: { status: 'published' } }), dependsOn: [matching(Post, { status: 'published' })] },
  { key: 'post:engines:tags', shows: "related(engines, 'tags')", load: () => engines.getTags(), dependsOn: [related(engines, 'tags')] },
  { key: 'tag:history:posts', shows: "related(history, 'posts')", load: () => history.getPosts(), dependsOn: [related(history, 'posts')] },
  { key: 'post:engines:comments', shows: "related(engines, 'comments')", load: () => Comment.findAll({ where: { postId: engines.id } }), dependsOn: [related(engines, 'comments')] },
  { key: 'stats', shows: 'models Author, Post, Comment', load: async () => [await Author.count(), await Post.count(), await Comment.count()], dependsOn: [Author, Post, Comment] },
];

/** Reads every entry through getOrSet; true where the loader ran (a miss). */
async function readAll(): Promise<boolean[]> {
  return Promise.all(reads.map(async (r) => {
    let missed = false;
    await getOrSet(keyv, r.key, async () => { missed = true; return JSON.parse(JSON.stringify(await r.load())); }, { dependsOn: r.dependsOn });
    return missed;
  }));
}

const steps: Array<[string, () => Promise<unknown>]> = [
  ['rename ada', () => ada.update({ name: 'Ada Lovelace' })],
  ["move 'Notes' from ada to linus (FK move)", () => notes.update({ authorId: linus.id })],
  ['publish every draft (bulk update)', () => Post.update({ status: 'published' }, { where: { status: 'draft' } })],
  ["tag 'Engines' out of 'history'", () => engines.removeTag(history)],
  ["tag 'Kernels' with 'history'", () => kernels.addTag(history)],
  ['comment on Kernels', () => Comment.create({ body: 'Neat', postId: kernels.id })],
  ['transaction: new post by ada, committed', () => sequelize.transaction(async (transaction) => {
    await Post.create({ title: 'Looms', status: 'draft', authorId: ada.id }, { transaction });
  })],
  ['transaction: delete Engines, rolled back', () => sequelize.transaction(async (transaction) => {
    await engines.destroy({ transaction });
    throw new Error('rollback');
  }).catch(() => undefined)],
];

const pad = (text: string, width: number) => text.padEnd(width);
console.log(`keyv-clever demo: ${store.backendKind} store, ${sequelize.getDialect()} database\n`);
console.log('Cached reads (computed once, then served from the cache until what they read changes):');
reads.forEach((r, i) => console.log(`  ${i + 1}  ${pad(r.key, 24)}${r.shows}`));
await readAll();

const cols = reads.map((_, i) => String(i + 1)).join(' ');
console.log(`\n${pad('write', 45)}${pad('ms', 8)}${pad('removed', 9)}${cols}`);
let removedTotal = 0;
store.on('invalidate', ({ removed }) => { removedTotal += removed; });
for (const [label, write] of steps) {
  removedTotal = 0;
  const started = performance.now();
  await write();
  const ms = (performance.now() - started).toFixed(1);
  const missed = await readAll(); // what was invalidated is recomputed now; the rest were hits
  console.log(`${pad(label, 45)}${pad(ms, 8)}${pad(String(removedTotal), 9)}${missed.map((m) => (m ? '✗' : '·')).join(' ')}`);
}
console.log('\n✗ invalidated by the write (recomputed on the next read)   · still served from the cache');

// Caching queries: no key, no dependsOn. The dependencies come from the query itself.
console.log("\nCaching queries: cached(Post).findAll({ where: { authorId: ada.id }, include: ['tags', 'author'] })");
const adaPosts = () => cached(Post).findAll({ where: { authorId: ada.id }, include: ['tags', 'author'], order: [['id', 'ASC']] });
let selects = 0;
sequelize.addHook('beforeQuery', 'demo-count', (options: { type?: string }) => { if (options.type === 'SELECT') selects += 1; });
const readQuery = async (label: string) => {
  selects = 0;
  const posts = await adaPosts();
  console.log(`  ${pad(label, 52)}${pad(selects ? 'miss' : 'hit', 6)}${posts.map((p) => `${p.title} [${p.tags.map((t: Row) => t.name).join(', ')}]`).join('; ')}`);
};
await readQuery('first call');
await readQuery('again');
console.log(`  store.entriesFor(matching(Post, { authorId: ada.id })): ${JSON.stringify(await store.entriesFor(matching(Post, { authorId: ada.id })))}`);
// A row: every cached entry a change of it would invalidate (its author's lists, the query above, itself).
console.log(`  store.entriesFor(engines): ${JSON.stringify((await store.entriesFor(engines)).sort())}`);
const queryWrites: Array<[string, () => Promise<unknown>]> = [
  ["rename tag 'systems' (one of Engines' tags)", () => Tag.update({ name: 'systems & co' }, { where: { id: systems.id } })],
  ['comment on Kernels (no comment is read)', () => Comment.create({ body: 'Again', postId: kernels.id })],
  ["tag 'Looms' with 'history'", async () => (await Post.findOne({ where: { title: 'Looms' } }))!.addTag(history)],
];
for (const [label, write] of queryWrites) {
  await write();
  await readQuery(`after: ${label}`);
  await readQuery('again');
}
sequelize.removeHook('beforeQuery', 'demo-count');
console.log(`store stats: ${JSON.stringify(store.stats)}`);

hooks.unregister();
await keyv.clear();
await store.disconnect();
await sequelize.close();
