/**
 * The safety net on raw statements run against the real databases: every table a statement can
 * write loses its entries, the other tables keep theirs, and a statement that may write but
 * cannot be read widens to every table of the models (without an 'error': afterEach checks).
 */
import { expect } from 'chai';
import type { QueryOptions } from 'sequelize';
import { matching } from '../../lib/index.js';
import { matrix, type Env } from './support.js';

/** One cached entry per fixture table, keyed by the table's name. */
const TABLES = ['authors', 'posts', 'profiles', 'tags', 'post_tags', 'comments', 'memberships', 'items'];

async function cacheTables(env: Env, extra: string[] = []): Promise<void> {
  await env.cache(Object.fromEntries([...TABLES, ...extra].map((t) => [t, [matching(t, {})]])));
}

/** Runs `sql`, then asserts exactly `gone` lost their entries among the fixture tables (and `extra`). */
async function expectWrites(env: Env, sql: string, gone: string[], extra: string[] = []): Promise<void> {
  await cacheTables(env, extra);
  await env.sequelize.query(sql);
  await env.expectCache({ gone, kept: [...TABLES, ...extra].filter((t) => !gone.includes(t)) });
}

matrix('safety net: every table a raw statement writes', (env) => {
  const q = (name: string) => env.sequelize.getQueryInterface().quoteIdentifier(name);
  const seedRows = async (memberships = true) => {
    await env.sequelize.query(`INSERT INTO ${q('items')} (${q('sku')}, ${q('active')}, ${q('createdAt')}, ${q('updatedAt')}) VALUES ('s1', ${env.dialect === 'postgres' ? 'true' : '1'}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`);
    // The membership's userId is the item's id (ids are not reset between tests on MariaDB).
    if (memberships) await env.sequelize.query(`INSERT INTO ${q('memberships')} (${q('userId')}, ${q('groupId')}, ${q('role')}) SELECT max(${q('id')}), 1, 'member' FROM ${q('items')}`);
  };
  const membership = (userId: number) => ({ userId, groupId: 1, role: 'member' });

  it('queryInterface.bulkInsert with ignoreDuplicates (INSERT IGNORE / OR IGNORE / ON CONFLICT DO NOTHING)', async () => {
    await seedRows();
    await cacheTables(env);
    await env.sequelize.getQueryInterface().bulkInsert('memberships', [membership(5), membership(5)], { ignoreDuplicates: true } as object as QueryOptions); // not in the typings, honoured by Sequelize
    await env.expectCache({ gone: ['memberships'], kept: TABLES.filter((t) => t !== 'memberships') });
  });

  it('a long bulkInsert invalidates its one table', async () => {
    await cacheTables(env);
    const rows = Array.from({ length: 2000 }, (_, i) => ({ userId: i + 1, groupId: 7, role: `r'; DELETE FROM items; -- ${i}` }));
    await env.sequelize.getQueryInterface().bulkInsert('memberships', rows);
    await env.expectCache({ gone: ['memberships'], kept: TABLES.filter((t) => t !== 'memberships') });
  });

  it('INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE, REPLACE', async () => {
    await seedRows();
    const upsert = env.dialect === 'mariadb'
      ? 'INSERT INTO memberships (userId, groupId, role) VALUES (1, 1, \'owner\') ON DUPLICATE KEY UPDATE role = VALUES(role)'
      : `INSERT INTO memberships ("userId", "groupId", role) VALUES (1, 1, 'owner') ON CONFLICT ("userId", "groupId") DO UPDATE SET role = excluded.role RETURNING *`;
    await expectWrites(env, upsert, ['memberships']);
    if (env.dialect !== 'postgres') await expectWrites(env, `REPLACE INTO ${q('memberships')} VALUES (1, 1, 'admin')`, ['memberships']);
  });

  if (!(env.dialect === 'postgres')) it('INSERT IGNORE (MariaDB) and INSERT OR IGNORE (SQLite)', async () => {
    await seedRows();
    const verb = env.dialect === 'mariadb' ? 'INSERT IGNORE INTO' : 'INSERT OR IGNORE INTO';
    await expectWrites(env, `${verb} ${q('memberships')} VALUES (1, 1, 'x'), (3, 1, 'y')`, ['memberships']);
  });

  it('INSERT … SELECT writes the target only', async () => {
    await seedRows();
    await expectWrites(env, `INSERT INTO ${q('memberships')} (${q('userId')}, ${q('groupId')}, ${q('role')}) SELECT ${q('id')}, 2, ${q('sku')} FROM ${q('items')}`, ['memberships']);
  });

  it('UPDATE with a join writes the tables on the SET side', async () => {
    await seedRows();
    const sql = env.dialect === 'mariadb'
      ? 'UPDATE memberships m JOIN items i ON i.id = m.userId SET i.active = 0'
      : env.dialect === 'postgres'
        ? 'UPDATE items AS i SET active = false FROM memberships m WHERE i.id = m."userId"'
        : 'UPDATE items SET active = 0 FROM memberships AS m WHERE items.id = m.userId';
    await expectWrites(env, sql, ['items']);
    if (env.dialect === 'mariadb') {
      await expectWrites(env, 'UPDATE memberships m JOIN items i ON i.id = m.userId SET i.active = 1, m.role = \'x\'', ['items', 'memberships']);
      // An unqualified column could be either table's: both.
      await expectWrites(env, 'UPDATE memberships m JOIN items i ON i.id = m.userId SET role = \'y\'', ['items', 'memberships']);
    }
  });

  it('DELETE with a join or USING writes the deleted tables', async () => {
    await seedRows();
    if (env.dialect === 'mariadb') {
      await expectWrites(env, 'DELETE i FROM items i JOIN memberships m ON m.userId = i.id', ['items']);
      await seedRows(false);
      await expectWrites(env, 'DELETE i, m FROM items AS i JOIN memberships AS m ON m.userId = i.id', ['items', 'memberships']);
    } else if (env.dialect === 'postgres') {
      await expectWrites(env, 'DELETE FROM ONLY items AS i USING memberships m WHERE i.id = m."userId" RETURNING i.id', ['items']);
    } else {
      await expectWrites(env, 'DELETE FROM items WHERE id IN (SELECT userId FROM memberships)', ['items']);
    }
  });

  // one table at a time elsewhere (none on SQLite)
  if (!(env.dialect !== 'postgres')) it('TRUNCATE of several tables', async () => {
    await seedRows();
    await expectWrites(env, 'TRUNCATE items, ONLY "memberships" RESTART IDENTITY', ['items', 'memberships']);
  });

  // one table per DROP TABLE
  if (!(env.dialect === 'sqlite')) it('DROP TABLE of several tables', async () => {
    await env.sequelize.query(`CREATE TABLE ${q('kc_scratch_a')} (id INTEGER)`);
    await env.sequelize.query(`CREATE TABLE ${q('kc_scratch_b')} (id INTEGER)`);
    await expectWrites(env, `DROP TABLE IF EXISTS ${q('kc_scratch_a')}, ${q('kc_scratch_b')}`, ['kc_scratch_a', 'kc_scratch_b'], ['kc_scratch_a', 'kc_scratch_b']);
  });

  // MariaDB takes WITH before SELECT only
  if (!(env.dialect === 'mariadb')) it('WITH: data-modifying CTEs (PostgreSQL), a CTE before UPDATE / DELETE (SQLite)', async () => {
    await seedRows();
    if (env.dialect === 'postgres') {
      await expectWrites(env, 'WITH d AS (DELETE FROM items RETURNING id) INSERT INTO memberships ("userId", "groupId") SELECT id, 9 FROM d', ['items', 'memberships']);
      await expectWrites(env, 'WITH u AS (UPDATE memberships SET role = \'x\' RETURNING *) SELECT count(*) FROM u', ['memberships']);
    } else {
      await expectWrites(env, `WITH x AS (SELECT ${q('id')} FROM ${q('items')}) UPDATE ${q('memberships')} SET ${q('role')} = 'x' WHERE ${q('userId')} IN (SELECT ${q('id')} FROM x)`, ['memberships']);
      if (env.dialect === 'sqlite') await expectWrites(env, 'WITH x AS (SELECT id FROM items) DELETE FROM memberships WHERE userId IN (SELECT id FROM x)', ['memberships']);
    }
  });

  // MariaDB's driver refuses several statements unless multipleStatements is on; SQLite's runs
  // the first one only (the net reads them all, whatever the driver does).
  if (env.dialect !== 'mariadb') it('several statements in one query', async () => {
    await seedRows();
    const sql = env.dialect === 'postgres'
      ? `SELECT 1; UPDATE items SET sku = 'a;b'; DELETE FROM memberships`
      : `UPDATE items SET sku = 'a;b'; DELETE FROM memberships`;
    await expectWrites(env, sql, ['items', 'memberships']);
    if (env.dialect === 'postgres') {
      const [rows] = await env.sequelize.query('SELECT (SELECT count(*) FROM memberships) AS m, (SELECT min(sku) FROM items) AS s');
      expect(rows).to.deep.equal([{ m: '0', s: 'a;b' }]);
    }
  });

  it('a statement that may write but cannot be read widens to every table of the models', async () => {
    await seedRows();
    await env.sequelize.query(`CREATE TABLE ${q('kc_scratch_c')} (id INTEGER)`);
    const sql = env.dialect === 'postgres'
      ? 'MERGE INTO items AS i USING memberships AS m ON i.id = m."userId" WHEN MATCHED THEN DELETE'
      : env.dialect === 'mariadb'
        ? 'CALL kc_purge_items()'
        : 'UPDATE OR REPLACE items SET active = 0';
    if (env.dialect === 'mariadb') {
      await env.sequelize.query('DROP PROCEDURE IF EXISTS kc_purge_items');
      await env.sequelize.query('CREATE PROCEDURE kc_purge_items() DELETE FROM items');
    }
    // Every model's table goes; a table no model maps cannot be known, so it stays.
    await expectWrites(env, sql, TABLES, ['kc_scratch_c']);
    expect(env.errors).to.deep.equal([]);
    if (env.dialect === 'postgres') {
      await expectWrites(env, 'DO $$ BEGIN DELETE FROM memberships; END $$', TABLES, ['kc_scratch_c']);
    }
    await env.sequelize.query(`DROP TABLE ${q('kc_scratch_c')}`);
  });

  it('in a transaction: invalidated after the commit, not after a rollback', async () => {
    await seedRows();
    const sql = env.dialect === 'mariadb'
      ? 'DELETE i, m FROM items AS i JOIN memberships AS m ON m.userId = i.id'
      : `DELETE FROM ${q('items')}; DELETE FROM ${q('memberships')}`;
    await cacheTables(env);
    const rolledBack = await env.sequelize.transaction();
    await env.sequelize.query(env.dialect === 'sqlite' ? `DELETE FROM ${q('items')}` : sql, { transaction: rolledBack });
    await rolledBack.rollback();
    await env.expectCache({ kept: TABLES });
    const committed = await env.sequelize.transaction();
    await env.sequelize.query(sql, { transaction: committed });
    await env.expectCache({ kept: TABLES });
    await committed.commit();
    await env.expectCache({ gone: ['items', 'memberships'], kept: TABLES.filter((t) => t !== 'items' && t !== 'memberships') });
  });

  it('reads and non-writing statements invalidate nothing', async () => {
    await seedRows();
    await cacheTables(env);
    await env.sequelize.query(`SELECT * FROM ${q('items')} WHERE ${q('sku')} = 'x; DELETE FROM items'`);
    await env.sequelize.query(`CREATE TABLE ${q('kc_scratch_d')} (id INTEGER)`);
    await env.sequelize.query(`DROP TABLE ${q('kc_scratch_d')}`);
    await env.expectCache({ kept: TABLES });
    expect(env.errors).to.deep.equal([]);
  });
});
