/**
 * The safety net's reading of SQL without a model: the tables a statement writes are invalidated
 * as whole tables, nothing else (a SELECT never invalidates); a statement that may write but
 * cannot be read widens to every table of the models. The first block reads statements with each
 * dialect's grammar; the second feeds them to the registered afterQuery hook as Sequelize would
 * after running them.
 */
import { expect } from 'chai';
import Keyv from 'keyv';
import { QueryTypes, Sequelize } from 'sequelize';
import { matching } from '../../lib/index.js';
import { registerSequelizeHooks, type SequelizeHooks } from '../../lib/sequelize/index.js';
import { readWrites } from '../../lib/sequelize/sql.js';
import { openStore } from './support.js';

type Dialect = 'sqlite' | 'postgres' | 'mariadb';
/** [sql, dialects, expected `action:table` list, or 'widen'] */
const READINGS: Array<[string, Dialect[], string[] | 'widen']> = [
  ['INSERT INTO "posts" ("id") VALUES (DEFAULT) RETURNING *;', ['postgres', 'sqlite'], ['insert:posts']],
  ['INSERT INTO `posts` (`id`) VALUES (NULL),(?);', ['mariadb', 'sqlite'], ['insert:posts']],
  ['INSERT IGNORE INTO `posts` (`id`) VALUES (1)', ['mariadb'], ['insert:posts']],
  ['INSERT OR IGNORE INTO `posts` (`id`) VALUES (1);', ['sqlite'], ['insert:posts']],
  ['INSERT INTO "posts" ("name") VALUES ($1) ON CONFLICT ("name") DO UPDATE SET "flag"=EXCLUDED."flag" RETURNING *;', ['postgres', 'sqlite'], ['insert:posts']],
  ['INSERT INTO posts (id) VALUES (1) ON CONFLICT DO NOTHING', ['postgres', 'sqlite'], ['insert:posts']],
  ['INSERT INTO posts (id) VALUES (1) ON DUPLICATE KEY UPDATE x = VALUES(x)', ['mariadb'], ['insert:posts']],
  ['REPLACE INTO posts (id) VALUES (1)', ['mariadb', 'sqlite'], ['insert:posts']],
  ['INSERT INTO posts SELECT * FROM authors', ['postgres', 'mariadb', 'sqlite'], ['insert:posts']],
  ['UPDATE "kc"."posts" SET "x"=1 WHERE "id" = 1', ['postgres', 'sqlite'], ['update:kc.posts']],
  ['update posts set x = 1', ['postgres', 'mariadb', 'sqlite'], ['update:posts']],
  ['UPDATE posts p JOIN authors a ON a.id = p.author_id SET a.name = p.title', ['mariadb'], ['update:authors']],
  ['UPDATE posts p JOIN authors a ON a.id = p.author_id SET a.name = 1, p.x = 2', ['mariadb'], ['update:authors', 'update:posts']],
  ['UPDATE posts p JOIN authors a ON a.id = p.author_id SET name = 1', ['mariadb'], ['update:posts', 'update:authors']],
  ['UPDATE posts AS p SET x = a.y FROM authors a WHERE a.id = p.author_id', ['postgres', 'sqlite'], ['update:posts']],
  ["DELETE FROM `posts` WHERE `name` = 'qi'", ['mariadb', 'sqlite'], ['delete:posts']],
  ['DELETE p FROM posts p JOIN authors a ON a.id = p.author_id', ['mariadb'], ['delete:posts']],
  ['DELETE p, a FROM posts AS p JOIN authors AS a ON a.id = p.author_id', ['mariadb'], ['delete:posts', 'delete:authors']],
  ['DELETE FROM ONLY posts p USING authors a WHERE a.id = p.author_id RETURNING p.id', ['postgres'], ['delete:posts']],
  ["DELETE FROM `posts`; DELETE FROM `sqlite_sequence` WHERE `name` = 'posts';", ['sqlite'], ['delete:posts', 'delete:sqlite_sequence']],
  ['TRUNCATE "posts" CASCADE', ['postgres'], ['truncate:posts:cascade']],
  ['TRUNCATE "posts" RESTART IDENTITY', ['postgres'], ['truncate:posts']],
  ['TRUNCATE posts, ONLY "authors"', ['postgres'], ['truncate:posts', 'truncate:authors']],
  ['TRUNCATE TABLE `posts`', ['mariadb'], ['truncate:posts']],
  ['DROP TABLE IF EXISTS "posts" CASCADE;', ['postgres'], ['drop:posts']],
  ['DROP TABLE IF EXISTS posts, authors', ['postgres', 'mariadb'], ['drop:posts', 'drop:authors']],
  ['ALTER TABLE posts ADD COLUMN z INTEGER', ['postgres', 'mariadb', 'sqlite'], ['alter:posts']],
  ['WITH x AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM x', ['postgres'], ['delete:a', 'insert:b']],
  ['WITH x AS (UPDATE a SET y = 1 RETURNING *) SELECT * FROM x', ['postgres'], ['update:a']],
  ['WITH x AS (SELECT id FROM a) DELETE FROM b WHERE id IN (SELECT id FROM x)', ['postgres', 'sqlite'], ['delete:b']],
  ["SELECT 1; UPDATE a SET s = ';'; DELETE FROM b", ['postgres', 'mariadb', 'sqlite'], ['update:a', 'delete:b']],
  ['CREATE TABLE IF NOT EXISTS "posts" ("id" SERIAL, "a" INTEGER REFERENCES "authors" ("id") ON DELETE SET NULL ON UPDATE CASCADE);', ['postgres'], []],
  ["SELECT * FROM posts WHERE body = 'please update posts; delete from authors'", ['postgres', 'mariadb', 'sqlite'], []],
  ['SELECT 1 FOR UPDATE', ['postgres', 'mariadb', 'sqlite'], []],
  ['START TRANSACTION;', ['postgres', 'mariadb'], []],
  ['MERGE INTO posts USING authors ON posts.id = authors.id WHEN MATCHED THEN DELETE', ['postgres'], 'widen'],
  ['DO $$ BEGIN DELETE FROM posts; END $$', ['postgres'], 'widen'],
  ['CALL purge()', ['postgres', 'mariadb'], 'widen'],
  ['UPDATE OR REPLACE posts SET x = 1', ['sqlite'], 'widen'],
  ['DROP SCHEMA kc CASCADE', ['postgres'], 'widen'],
  ["LOAD DATA INFILE '/tmp/x' INTO TABLE posts", ['mariadb'], ['insert:posts']],
  ['COPY posts FROM STDIN', ['postgres'], 'widen'],
  ['INSERT INTO posts DEFAULT VALUES', ['postgres'], 'widen'],
  ['DROP TYPE "enum_posts_status" CASCADE', ['postgres'], 'widen'],
  ['DROP PROCEDURE IF EXISTS purge', ['mariadb'], []],
  ['DROP INDEX posts_title ON posts', ['mariadb'], []],
  ['DROP TYPE IF EXISTS "enum_posts_status"', ['postgres'], []],
  ['DELETE FROM posts; MERGE INTO a USING b ON a.id = b.id WHEN MATCHED THEN DELETE', ['postgres'], 'widen'],
];

describe('safety net: reading the tables a statement writes, per dialect', () => {
  for (const [sql, dialects, expected] of READINGS) {
    for (const dialect of dialects) {
      it(`[${dialect}] ${sql.slice(0, 70)}`, () => {
        const read = readWrites(sql, dialect);
        if (expected === 'widen') {
          expect(read.unreadable, 'unreadable').to.be.a('string');
          return;
        }
        expect(read.unreadable, 'unreadable').to.equal(undefined);
        expect(read.tables.map((t) => `${t.action}:${t.name}${t.cascade ? ':cascade' : ''}`)).to.deep.equal(expected);
      });
    }
  }

  it('a long VALUES list is read without its rows, strings and comments included', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => `(${i}, 'a''b; DELETE FROM c ${i}', "x", /* ) */ 1)`).join(', ');
    for (const dialect of ['postgres', 'mariadb', 'sqlite'] as const) {
      const read = readWrites(`INSERT INTO posts (id, t, u, v) VALUES ${rows} ON CONFLICT DO NOTHING`.replace(' ON CONFLICT DO NOTHING', dialect === 'mariadb' ? '' : ' ON CONFLICT DO NOTHING'), dialect);
      expect(read, dialect).to.deep.equal({ tables: [{ name: 'posts', action: 'insert', cascade: false }] });
    }
  });

  it('a statement too deep for the grammar is unreadable, not thrown', () => {
    const read = readWrites(`UPDATE posts SET x = ${'('.repeat(5000)}1${')'.repeat(5000)}`, 'postgres');
    expect(read.unreadable).to.be.a('string');
  });
});

describe('safety net: the afterQuery hook on statements without a model [sqlite + memory]', () => {
  const cases: Array<[string, Array<[string, string, boolean?]>]> = [
    ['INSERT INTO "posts" ("id") VALUES (1) RETURNING *;', [['posts', 'insert']]],
    ['INSERT OR IGNORE INTO `posts` (`id`) VALUES (1);', [['posts', 'insert']]],
    ['INSERT INTO "posts" ("name") VALUES ($1) ON CONFLICT ("name") DO UPDATE SET "flag"=EXCLUDED."flag" RETURNING *;', [['posts', 'insert']]],
    ['UPDATE "kc"."posts" SET "x"=1 WHERE "id" = 1', [['kc.posts', 'update']]],
    ['update posts set x = 1', [['posts', 'update']]],
    ["DELETE FROM `posts` WHERE `name` = 'qi'", [['posts', 'delete']]],
    ["DELETE FROM `posts`; DELETE FROM `sqlite_sequence` WHERE `name` = 'posts';", [['posts', 'delete'], ['sqlite_sequence', 'delete']]],
    ['TRUNCATE `posts`', [['posts', 'truncate', false]]],
    ['DROP TABLE IF EXISTS `posts`;', [['posts', 'drop']]],
    ['WITH x AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM x', [['a', 'delete'], ['b', 'insert']]],
    ['CREATE TABLE IF NOT EXISTS "posts" ("id" SERIAL, "a" INTEGER REFERENCES "authors" ("id") ON DELETE SET NULL ON UPDATE CASCADE);', []],
    ["SELECT * FROM posts WHERE body = 'please update posts'", []],
    ['SELECT 1 FOR UPDATE', []],
    ['START TRANSACTION;', []],
  ];
  const tables = ['posts', 'kc.posts', 'sqlite_sequence', 'a', 'b', 'authors', 'unrelated'];
  let sequelize: Sequelize;
  let keyv: Keyv;
  let hooks: SequelizeHooks;
  before(() => {
    sequelize = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
    keyv = new Keyv({ store: openStore('memory') });
    hooks = registerSequelizeHooks(sequelize, keyv);
  });
  after(async () => {
    hooks.unregister();
    await sequelize.close();
  });

  for (const [sql, expected] of cases) {
    it(sql.slice(0, 70), async () => {
      const read = readWrites(sql, 'sqlite');
      expect(read.unreadable).to.equal(undefined);
      const got = read.tables.map((t) => [t.name, t.action, ...(t.action === 'truncate' ? [t.cascade] : [])]);
      expect(got).to.deep.equal(expected);
      await keyv.clear();
      for (const table of tables) await keyv.set(table, 'v', { dependsOn: [matching(table, {}), matching(table, { id: 1 })] });
      await (sequelize as unknown as { runHooks(type: string, ...args: unknown[]): Promise<void> }).runHooks('afterQuery', { type: QueryTypes.RAW }, { sql });
      const gone = new Set(expected.map(([name]) => name));
      const state = Object.fromEntries(await Promise.all(tables.map(async (t) => [t, (await keyv.get(t)) !== undefined] as const)));
      expect(state).to.deep.equal(Object.fromEntries(tables.map((t) => [t, !gone.has(t)])));
      expect(state.unrelated).to.equal(true);
    });
  }
});
