// A small blog API whose reads are cached with keyv-clever and never invalidated by hand:
// the Sequelize hooks do it, at commit time, for every write the endpoints make.
import Fastify, { type FastifyInstance } from 'fastify';
import Keyv from 'keyv';
import { DataTypes, Model, Sequelize, type InferAttributes, type InferCreationAttributes, type CreationOptional } from 'sequelize';
import { CleverStore, getOrSet, matching, type Dependency } from '../../lib/index.js';
import { registerSequelizeHooks, related } from '../../lib/sequelize/index.js';

export class Author extends Model<InferAttributes<Author>, InferCreationAttributes<Author>> {
  declare id: CreationOptional<number>;
  declare name: string;
}
export class Post extends Model<InferAttributes<Post>, InferCreationAttributes<Post>> {
  declare id: CreationOptional<number>;
  declare title: string;
  declare status: string;
  declare authorId: number;
}

export interface BlogApp {
  app: FastifyInstance;
  sequelize: Sequelize;
  store: CleverStore;
  close(): Promise<void>;
}

/** Builds the API on SQLite in memory and the embedded store, or on DATABASE_URL / REDIS_URL. */
export async function buildApp(env: { databaseUrl?: string; redisUrl?: string } = {}): Promise<BlogApp> {
  const sequelize = env.databaseUrl
    ? new Sequelize(env.databaseUrl, { logging: false })
    : new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
  Author.init({ id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true }, name: DataTypes.STRING }, { sequelize, tableName: 'example_authors' });
  Post.init({
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    title: DataTypes.STRING,
    status: { type: DataTypes.STRING, defaultValue: 'draft' },
    authorId: DataTypes.INTEGER,
  }, { sequelize, tableName: 'example_posts' });
  Author.hasMany(Post, { as: 'posts', foreignKey: 'authorId' });
  Post.belongsTo(Author, { as: 'author', foreignKey: 'authorId' });
  await sequelize.sync({ force: true });

  const store = env.redisUrl ? new CleverStore(env.redisUrl) : new CleverStore();
  const keyv = new Keyv({ store, namespace: 'blog-api' });
  const hooks = registerSequelizeHooks(sequelize, keyv);
  const app = Fastify();

  // Each response says whether it came from the cache, so the effect is visible with curl.
  const cached = async <T>(reply: { header(name: string, value: string): unknown }, key: string, load: () => Promise<T>, dependsOn: Dependency[]) => {
    let computed = false;
    const value = await getOrSet(keyv, key, async () => { computed = true; return load(); }, { ttl: 60_000, dependsOn });
    reply.header('x-cache', computed ? 'miss' : 'hit');
    return value;
  };

  app.get<{ Params: { id: string } }>('/authors/:id/posts', async (request, reply) => {
    const author = await Author.findByPk(Number(request.params.id));
    if (!author) return reply.code(404).send({ error: 'no such author' });
    return cached(reply, `author:${author.id}:posts`, async () => (await Post.findAll({ where: { authorId: author.id }, order: [['id', 'ASC']] })).map((p) => p.toJSON()),
      [related(author, 'posts')]);
  });

  app.get('/posts/published', async (_request, reply) => cached(reply, 'posts:published',
    async () => (await Post.findAll({ where: { status: 'published' }, order: [['id', 'ASC']] })).map((p) => p.toJSON()),
    [matching(Post, { status: 'published' })]));

  app.get<{ Params: { id: string } }>('/posts/:id', async (request, reply) => {
    const post = await Post.findByPk(Number(request.params.id));
    if (!post) return reply.code(404).send({ error: 'no such post' });
    return cached(reply, `post:${post.id}`, async () => post.toJSON(), [post]);
  });

  app.get('/stats', async (_request, reply) => cached(reply, 'stats', async () => ({ authors: await Author.count(), posts: await Post.count() }), [Author, Post]));

  app.post<{ Body: { name: string } }>('/authors', async (request, reply) => reply.code(201).send((await Author.create({ name: request.body.name })).toJSON()));

  app.post<{ Body: { title: string; authorId: number; status?: string } }>('/posts', async (request, reply) => {
    const post = await Post.create({ title: request.body.title, authorId: request.body.authorId, status: request.body.status ?? 'draft' });
    return reply.code(201).send(post.toJSON());
  });

  app.patch<{ Params: { id: string }; Body: Partial<{ title: string; status: string; authorId: number }> }>('/posts/:id', async (request, reply) => {
    const post = await Post.findByPk(Number(request.params.id));
    if (!post) return reply.code(404).send({ error: 'no such post' });
    await post.update(request.body);
    return post.toJSON();
  });

  app.post('/posts/publish-all', async () => {
    const [count] = await Post.update({ status: 'published' }, { where: { status: 'draft' } });
    return { published: count };
  });

  return {
    app,
    sequelize,
    store,
    async close() {
      await app.close();
      hooks.unregister();
      await store.disconnect();
      await sequelize.close();
    },
  };
}
