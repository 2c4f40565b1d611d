/**
 * The safety net's reading of SQL without a model: the tables a statement writes are invalidated
 * as whole tables, nothing else (best effort; a SELECT never invalidates). The statements are fed
 * to the registered afterQuery hook as Sequelize would after running them.
 */
import { expect } from 'chai';
import Keyv from 'keyv';
import { QueryTypes, Sequelize } from 'sequelize';
import { matching } from '../../lib/index.js';
import { registerSequelizeHooks, type SequelizeHooks } from '../../lib/sequelize/index.js';
import { writtenTables } from '../../lib/sequelize/sql.js';
import { openStore } from './support.js';

describe('safety net: tables written by a SQL statement without a model [sqlite + memory]', () => {
  const cases: Array<[string, Array<[string, string, boolean?]>]> = [
    ['INSERT INTO "posts" ("id") VALUES (1) RETURNING *;', [['posts', 'insert']]],
    ['INSERT OR IGNORE INTO `posts` (`id`) VALUES (1);', [['posts', 'insert']]],
    ['INSERT INTO "posts" ("name") VALUES ($1) ON CONFLICT ("name") DO UPDATE SET "flag"=EXCLUDED."flag" RETURNING *;', [['posts', 'insert']]],
    ['UPDATE "kc"."posts" SET "x"=1 WHERE "id" = 1', [['kc.posts', 'update']]],
    ['update posts set x = 1', [['posts', 'update']]],
    ["DELETE FROM `posts` WHERE `name` = 'qi'", [['posts', 'delete']]],
    ["DELETE FROM `posts`; DELETE FROM `sqlite_sequence` WHERE `name` = 'posts';", [['posts', 'delete'], ['sqlite_sequence', 'delete']]],
    ['TRUNCATE "posts" CASCADE', [['posts', 'truncate', true]]],
    ['TRUNCATE "posts" RESTART IDENTITY', [['posts', 'truncate', false]]],
    ['DROP TABLE IF EXISTS "posts" CASCADE;', [['posts', 'drop']]],
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
      const got = writtenTables(sql).map((t) => [t.name, t.action, ...(t.action === 'truncate' ? [t.cascade] : [])]);
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
