/**
 * The Sequelize test matrix: every suite runs on {SQLite, PostgreSQL} x {memory, Redis}, on
 * PostgreSQL + the local Redis Cluster of the global test setup, and on MariaDB + Redis (the
 * hooks' behaviour depends on the dialect, not on the backend), against real servers (see
 * test/support/services.ts). Each matrix block gets its own PostgreSQL schema or MariaDB
 * database and its own store namespace.
 */
import { expect } from 'chai';
import { createNamespace, destroyNamespace } from 'cls-hooked';
import Keyv from 'keyv';
import { DataTypes, QueryTypes, Sequelize, type Model, type ModelStatic } from 'sequelize';
import { clusterNodes } from '../support/backends.js';
import { SEQUELIZE_REDIS_URL as REDIS_URL } from '../support/services.js';
import { closeSequelize, openSequelize, unique, type Dialect } from '../support/sequelize.js';
import { CleverStore, type Dependency } from '../../lib/index.js';
import { registerSequelizeHooks, type SequelizeHooks, type SequelizeHooksOptions } from '../../lib/sequelize/index.js';

export type BackendKind = 'memory' | 'redis' | 'cluster';
export { closeSequelize, openSequelize, unique, type Dialect };

export function openStore(backend: BackendKind, options: ConstructorParameters<typeof CleverStore>[1] = {}): CleverStore {
  if (backend === 'cluster') return new CleverStore({ cluster: clusterNodes(), sweepInterval: 0, replicaTimeout: 2000, ...options });
  return backend === 'memory'
    ? new CleverStore({ sweepInterval: 0, ...options })
    : new CleverStore(REDIS_URL, { sweepInterval: 0, ...options });
}

/* ------------------------------------------------------------------------------------------ */
/* The fixture schema                                                                         */
/* ------------------------------------------------------------------------------------------ */

type M = ModelStatic<Model>;
export interface Models {
  Author: M;
  Post: M;
  Profile: M;
  Tag: M;
  PostTag: M;
  Comment: M;
  Membership: M;
  Item: M;
}

/**
 * Authors (BIGINT ids: strings on PostgreSQL) have posts (hasMany; `authorId` stored in column
 * `author_id`) and a profile (hasOne); posts have tags (belongsToMany through PostTag, which has a
 * composite primary key) and comments (paranoid); memberships have a composite primary key and
 * no association; items have a unique sku, a DECIMAL, a BOOLEAN, a DATEONLY and a DATE.
 */
export function defineModels(sequelize: Sequelize): Models {
  const Author = sequelize.define('Author', {
    id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
    name: { type: DataTypes.STRING, allowNull: false },
    status: { type: DataTypes.STRING, allowNull: false, defaultValue: 'active' },
  }, { tableName: 'authors' });
  const Post = sequelize.define('Post', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    title: { type: DataTypes.STRING, allowNull: false, defaultValue: 'untitled' },
    status: { type: DataTypes.STRING, allowNull: false, defaultValue: 'draft' },
    views: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    authorId: { type: DataTypes.BIGINT, field: 'author_id', allowNull: true },
  }, {
    tableName: 'posts',
    scopes: { published: { where: { status: 'published' } } },
  });
  const Profile = sequelize.define('Profile', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    bio: { type: DataTypes.STRING, allowNull: false, defaultValue: '' },
    authorId: { type: DataTypes.BIGINT, allowNull: true },
  }, { tableName: 'profiles' });
  const Tag = sequelize.define('Tag', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    name: { type: DataTypes.STRING, allowNull: false, unique: true },
  }, { tableName: 'tags' });
  const PostTag = sequelize.define('PostTag', {
    postId: { type: DataTypes.INTEGER, primaryKey: true },
    tagId: { type: DataTypes.INTEGER, primaryKey: true },
    weight: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 1 },
  }, { tableName: 'post_tags', timestamps: false });
  const Comment = sequelize.define('Comment', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    body: { type: DataTypes.STRING, allowNull: false, defaultValue: '' },
    postId: { type: DataTypes.INTEGER, allowNull: true },
  }, { tableName: 'comments', paranoid: true });
  const Membership = sequelize.define('Membership', {
    userId: { type: DataTypes.INTEGER, primaryKey: true },
    groupId: { type: DataTypes.INTEGER, primaryKey: true },
    role: { type: DataTypes.STRING, allowNull: false, defaultValue: 'member' },
  }, { tableName: 'memberships', timestamps: false });
  const Item = sequelize.define('Item', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    sku: { type: DataTypes.STRING, allowNull: false, unique: true },
    price: { type: DataTypes.DECIMAL(10, 2), allowNull: true },
    active: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
    onDay: { type: DataTypes.DATEONLY, allowNull: true },
    at: { type: DataTypes.DATE, allowNull: true },
    meta: { type: DataTypes.JSON, allowNull: true },
  }, { tableName: 'items' });

  Author.hasMany(Post, { as: 'posts', foreignKey: 'authorId' });
  Post.belongsTo(Author, { as: 'author', foreignKey: 'authorId' });
  Author.hasOne(Profile, { as: 'profile', foreignKey: 'authorId' });
  Profile.belongsTo(Author, { as: 'author', foreignKey: 'authorId' });
  Post.belongsToMany(Tag, { through: PostTag, as: 'tags', foreignKey: 'postId', otherKey: 'tagId' });
  Tag.belongsToMany(Post, { through: PostTag, as: 'posts', foreignKey: 'tagId', otherKey: 'postId' });
  Post.hasMany(Comment, { as: 'comments', foreignKey: 'postId' });
  Comment.belongsTo(Post, { as: 'post', foreignKey: 'postId' });
  return { Author, Post, Profile, Tag, PostTag, Comment, Membership, Item };
}

/* ------------------------------------------------------------------------------------------ */
/* The matrix                                                                                 */
/* ------------------------------------------------------------------------------------------ */

export interface Env {
  dialect: Dialect;
  backend: BackendKind;
  sequelize: Sequelize;
  store: CleverStore;
  keyv: Keyv;
  models: Models;
  hooks: SequelizeHooks;
  /** errors the store emitted during the current test */
  errors: Error[];
  /** caches `'v'` under each key with the given dependencies */
  cache(entries: Record<string, Dependency[]>): Promise<void>;
  /** asserts which keys are gone and which are still cached */
  expectCache(expected: { gone?: string[]; kept?: string[] }): Promise<void>;
}

export interface MatrixOptions {
  dialects?: Dialect[];
  backends?: BackendKind[];
  hooks?: SequelizeHooksOptions;
  /** register hooks before each test (default true) */
  register?: boolean;
}

/** The dialects a run covers: all of them, or those SEQUELIZE_DIALECTS lists (the Keyv 6 job runs PostgreSQL). */
export const DIALECTS: Dialect[] = (['sqlite', 'postgres', 'mariadb'] as Dialect[]).filter((d) => process.env.SEQUELIZE_DIALECTS?.split(',').includes(d) ?? true);
const BACKENDS: BackendKind[] = ['memory', 'redis'];
/** The cluster runs with PostgreSQL only: the hooks' behaviour does not depend on the dialect. */
const backendsFor = (dialect: Dialect): BackendKind[] => (dialect === 'postgres' ? [...BACKENDS, 'cluster'] : dialect === 'mariadb' ? ['redis'] : BACKENDS);

/**
 * Generates one `describe` per {dialect} x {backend}: a fresh schema per block, empty tables, an
 * empty store and freshly registered hooks per test (unregistered after it; the test fails if the
 * store emitted an unexpected error — tests that expect errors empty `env.errors`).
 */
export function matrix(title: string, body: (env: Env) => void, options: MatrixOptions = {}): void {
  for (const dialect of (options.dialects ?? DIALECTS).filter((d) => DIALECTS.includes(d))) {
    for (const backend of options.backends ?? backendsFor(dialect)) {
      describe(`${title} [${dialect} + ${backend}]`, function () {
        this.timeout(30_000);
        const env = {} as Env;
        env.dialect = dialect;
        env.backend = backend;
        env.errors = [];
        env.cache = async (entries) => {
          for (const [key, dependsOn] of Object.entries(entries)) {
            expect(await env.keyv.set(key, 'v', { dependsOn }), `caching ${key}`).to.equal(true);
          }
          for (const key of Object.keys(entries)) expect(await env.keyv.get(key), `${key} cached`).to.equal('v');
        };
        env.expectCache = async ({ gone = [], kept = [] }) => {
          const state = async (keys: string[]) => Object.fromEntries(await Promise.all(keys.map(async (k) => [k, (await env.keyv.get(k)) !== undefined] as const)));
          expect({ gone: await state(gone), kept: await state(kept) }).to.deep.equal({
            gone: Object.fromEntries(gone.map((k) => [k, false])),
            kept: Object.fromEntries(kept.map((k) => [k, true])),
          });
        };

        before(async () => {
          env.sequelize = await openSequelize(dialect);
          env.models = defineModels(env.sequelize);
          await env.sequelize.sync(); // a fresh schema: nothing to drop (force would look at other schemas on PostgreSQL)
          env.store = openStore(backend);
          env.store.on('error', (error) => env.errors.push(error));
          env.keyv = new Keyv({ store: env.store, namespace: unique('kc-seq') });
        });
        beforeEach(async () => {
          const tables = ['post_tags', 'comments', 'posts', 'profiles', 'tags', 'memberships', 'items', 'authors'];
          if (dialect === 'postgres') await env.sequelize.query(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY CASCADE`);
          else for (const t of tables) await env.sequelize.query(`DELETE FROM ${env.sequelize.getQueryInterface().quoteIdentifier(t)}`);
          await env.keyv.clear();
          env.errors.length = 0;
          if (options.register !== false) env.hooks = registerSequelizeHooks(env.sequelize, env.keyv, options.hooks);
        });
        afterEach(function () {
          env.hooks?.unregister();
          if (this.currentTest?.state === 'passed') expect(env.errors.map((e) => e.message), 'store errors').to.deep.equal([]);
        });
        after(async () => {
          await env.keyv?.clear(); // leave nothing behind in Redis db 2
          await env.store?.disconnect();
          if (env.sequelize) await closeSequelize(env.sequelize);
        });

        body(env);
      });
    }
  }
}

/** Creates a few authors, posts, tags and comments and returns them by name. */
export async function seed(env: Env) {
  const { Author, Post, Tag, Comment, Profile } = env.models;
  const [a1, a2, a3] = await Promise.all(['a1', 'a2', 'a3'].map((name) => Author.create({ name })));
  const p1 = await Post.create({ title: 'p1', authorId: a1!.get('id') });
  const p2 = await Post.create({ title: 'p2', authorId: a2!.get('id'), status: 'published' });
  const p3 = await Post.create({ title: 'p3', authorId: a3!.get('id') });
  const t1 = await Tag.create({ name: 't1' });
  const t2 = await Tag.create({ name: 't2' });
  await (p1 as unknown as { addTags(t: unknown[]): Promise<void> }).addTags([t1]);
  await (p2 as unknown as { addTags(t: unknown[]): Promise<void> }).addTags([t2]);
  const c1 = await Comment.create({ body: 'c1', postId: p1.get('id') });
  const c2 = await Comment.create({ body: 'c2', postId: p2.get('id') });
  const pr1 = await Profile.create({ bio: 'pr1', authorId: a1!.get('id') });
  const pr2 = await Profile.create({ bio: 'pr2', authorId: a2!.get('id') });
  // Reload what we hand out: the values as the database returns them (BIGINT strings on PostgreSQL).
  const reload = async <T extends Model>(x: T) => (await x.reload()) as T;
  return {
    a1: await reload(a1!), a2: await reload(a2!), a3: await reload(a3!),
    p1: await reload(p1), p2: await reload(p2), p3: await reload(p3),
    t1, t2, c1, c2, pr1, pr2,
  };
}

/** Calls a dynamically added association method (getPosts, addTag…) without type noise. */
export function call<T = unknown>(instance: Model, method: string, ...args: unknown[]): Promise<T> {
  const fn = (instance as unknown as Record<string, (...a: unknown[]) => Promise<T>>)[method];
  if (typeof fn !== 'function') throw new Error(`${instance.constructor.name} has no method ${method}`);
  return fn.apply(instance, args);
}

/** Turns Sequelize's CLS on for the enclosing describe block (and back to what it was after it). */
export function useCls(): void {
  let previous: unknown;
  let namespace: string;
  before(() => {
    namespace = unique('kc-cls');
    previous = (Sequelize as unknown as { _cls?: unknown })._cls;
    Sequelize.useCLS(createNamespace(namespace));
  });
  after(() => {
    (Sequelize as unknown as { _cls?: unknown })._cls = previous;
    destroyNamespace(namespace);
  });
}

/**
 * Resolves once a statement on `table` waits for a row lock (another connection holds it):
 * PostgreSQL's pg_stat_activity; on MariaDB the process list (a locking read by primary key
 * waits in the optimizer's "Statistics" stage, before InnoDB lists its transaction). Polls; the
 * test's timeout bounds it.
 */
export async function waitUntilBlocked(dialect: Dialect, sequelize: Sequelize, table: string): Promise<void> {
  const sql = dialect === 'postgres'
    ? `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%${table}%'`
    : `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND STATE IN ('Statistics', 'Updating', 'Sending data', 'Searching rows for update') AND INFO LIKE '%${table}%' AND INFO NOT LIKE '%information_schema%'`;
  for (;;) {
    const [row] = await sequelize.query<{ n: number }>(sql, { type: QueryTypes.SELECT });
    if (Number(row?.n) > 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
