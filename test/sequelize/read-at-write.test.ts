/**
 * The rows a write changes are read at the write's own statement, locked: a commit that lands
 * while the write waits (for a row lock, in an application hook, between a pre-read and the
 * statement) is what the write sees as the old values, and an autocommit write holds its lock
 * exactly as long as its statement. Gates (promises that hold a transaction or a statement) order
 * the races; nothing sleeps.
 */
import { expect } from 'chai';
import { QueryTypes, type Transaction } from 'sequelize';
import { matching } from '../../lib/index.js';
import { related } from '../../lib/sequelize/index.js';
import { matrix, seed, waitUntilBlocked, type Env } from './support.js';

/** A promise and what resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * Transactions left open by the test's own connections (none may be, once every write has
 * returned); another run's connections to the same server do not count.
 */
async function openTransactions(env: Env): Promise<number> {
  const sql = env.dialect === 'postgres'
    ? "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = current_setting('application_name') AND state LIKE 'idle in transaction%'"
    : 'SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE p.DB = DATABASE()';
  const [row] = await env.sequelize.query<{ n: number }>(sql, { type: QueryTypes.SELECT });
  return Number(row?.n);
}

/**
 * Holds the next statement of `type` (after the library's read, whose hook runs first, before
 * the statement runs) until `released`; `held` resolves when it is held.
 */
function holdStatement(env: Env, type: string, released: Promise<void>): { held: Promise<void>; remove: () => void } {
  const reached = gate();
  let armed = true;
  env.sequelize.addHook('beforeQuery', 'hold', async (options: { type?: string }) => {
    if (!armed || options.type !== type) return;
    armed = false;
    reached.open();
    await released;
  });
  return { held: reached.opened, remove: () => env.sequelize.removeHook('beforeQuery', 'hold') };
}

matrix('read at write: a row lock waited for', (env) => {
  it('Model.update in a transaction that waited for another\'s row lock invalidates the state committed meanwhile', async () => {
    const { Post } = env.models;
    const { a1, a2, p1 } = await seed(env);
    const id = p1.get('id');
    const other = await env.sequelize.transaction();
    await Post.update({ authorId: a2.get('id') }, { where: { id }, transaction: other }); // holds the row lock
    const done = gate();
    const writing = env.sequelize.transaction(async (transaction: Transaction) => {
      await Post.update({ title: 'renamed' }, { where: { id }, transaction });
      await done.opened; // uncommitted while a reader caches the other's committed state
    });
    await waitUntilBlocked(env.dialect, env.sequelize, 'posts');
    await other.commit();
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')] });
    done.open();
    await writing;
    await env.expectCache({ gone: ['a2posts'] });
  });

  it('an autocommit Model.update holds its row from the read to the statement; the lock ends with it', async () => {
    const { Post } = env.models;
    const { a2, p1 } = await seed(env);
    const id = p1.get('id');
    const release = gate();
    const hold = holdStatement(env, 'BULKUPDATE', release.opened);
    try {
      const writing = Post.update({ title: 'renamed' }, { where: { id } });
      await hold.held; // read done, statement not sent
      hold.remove();
      const other = Post.update({ authorId: a2.get('id') }, { where: { id } }).then(() => 'finished' as const);
      const first = await Promise.race([other, waitUntilBlocked(env.dialect, env.sequelize, 'posts').then(() => 'blocked' as const)]);
      expect(first).to.equal('blocked');
      await env.cache({ a2posts: [related(a2, 'posts')] });
      release.open();
      await writing;
      await other;
      await env.expectCache({ gone: ['a2posts'] });
      expect((await Post.findByPk(id as number))!.get('authorId')).to.equal(a2.get('id'));
      expect(await openTransactions(env)).to.equal(0);
    } finally {
      hold.remove();
      release.open();
    }
  });

  it('an autocommit save() holds its row from the read to the statement', async () => {
    const { Post } = env.models;
    const { a2, a3, p1 } = await seed(env);
    const id = p1.get('id');
    const release = gate();
    const hold = holdStatement(env, 'UPDATE', release.opened);
    try {
      p1.set('authorId', a3.get('id'));
      const saving = p1.save();
      await hold.held;
      hold.remove();
      const other = Post.update({ authorId: a2.get('id') }, { where: { id } }).then(() => 'finished' as const);
      const first = await Promise.race([other, waitUntilBlocked(env.dialect, env.sequelize, 'posts').then(() => 'blocked' as const)]);
      expect(first).to.equal('blocked');
      release.open();
      await saving;
      await other;
      expect(await openTransactions(env)).to.equal(0);
    } finally {
      hold.remove();
      release.open();
    }
  });

  it('unregister() while an autocommit write holds its row: the write\'s transaction still ends with it', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    const release = gate();
    const hold = holdStatement(env, 'BULKUPDATE', release.opened);
    try {
      const writing = Post.update({ title: 'renamed' }, { where: { id: p1.get('id') } });
      await hold.held; // the transaction is begun and the row locked
      env.hooks.unregister();
      release.open();
      await writing;
      expect(await openTransactions(env)).to.equal(0);
      const left = (env.sequelize as unknown as { options: { hooks: Record<string, Array<{ name?: string }>> } }).options.hooks.afterQuery ?? [];
      expect(left.filter((h) => h.name?.startsWith(env.hooks.name)), 'the ending hook went with the transaction').to.deep.equal([]);
    } finally {
      hold.remove();
      release.open();
    }
  });

  it('an autocommit write whose statement fails: the error reaches the caller and no transaction stays open', async () => {
    const { Post } = env.models;
    const { p1, p2 } = await seed(env);
    await env.cache({ p1: [p1], p2: [p2] });
    let failed: unknown;
    await Post.update({ title: null }, { where: { id: p1.get('id') }, validate: false }).catch((error: unknown) => (failed = error));
    expect(failed, 'NOT NULL violated').to.be.instanceOf(Error);
    expect(await openTransactions(env)).to.equal(0);
    await Post.update({ title: 'fine' }, { where: { id: p2.get('id') } });
    await env.expectCache({ gone: ['p2'], kept: ['p1'] });
    expect(await openTransactions(env)).to.equal(0);
  });
}, { dialects: ['postgres', 'mariadb'] });

matrix('read at write: MariaDB REPEATABLE READ', (env) => {
  it('Model.destroy in a transaction deletes a row moved into its where after the snapshot; that row\'s entries go', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    const transaction = await env.sequelize.transaction();
    try {
      await Post.findAll({ transaction }); // the snapshot
      await Post.update({ status: 'archived' }, { where: { id: p1.get('id') } });
      await env.cache({ archived: [matching(Post, { status: 'archived' })], p1: [p1] });
      const deleted = await Post.destroy({ where: { status: 'archived' }, transaction });
      expect(deleted).to.equal(1);
      await transaction.commit();
    } finally {
      if (!(transaction as unknown as { finished?: string }).finished) await transaction.rollback();
    }
    await env.expectCache({ gone: ['archived', 'p1'] });
  });
}, { dialects: ['mariadb'] });

matrix('read at write: writes side by side in one transaction', (env) => {
  it('hasMany set (two bulk updates at once) keeps the transaction usable and invalidates both sides', async () => {
    const { Post } = env.models;
    const { a1, a2, p1, p2, p3 } = await seed(env);
    await env.cache({ a1posts: [related(a1, 'posts')], a2posts: [related(a2, 'posts')] });
    await env.sequelize.transaction(async (transaction: Transaction) => {
      await (a1 as unknown as { setPosts(p: unknown[], o: object): Promise<void> }).setPosts([p2, p3], { transaction });
      expect(await Post.count({ where: { authorId: a1.get('id') }, transaction })).to.equal(2);
    });
    expect((await Post.findByPk(p1.get('id') as number))!.get('authorId')).to.equal(null);
    await env.expectCache({ gone: ['a1posts', 'a2posts'] });
  });
});
