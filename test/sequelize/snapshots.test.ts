/**
 * getOrSet never stores a value read from a snapshot older than a commit it could have missed:
 * inside REPEATABLE READ transactions (MariaDB's default), PostgreSQL's SERIALIZABLE ones and SQLite
 * in WAL mode the value is returned and not stored; READ COMMITTED stores as before.
 */
import { expect } from 'chai';
import { Transaction } from 'sequelize';
import { getOrSet } from '../../lib/index.js';
import { matrix, seed, type Env } from './support.js';

/**
 * Opens a transaction with `level` (the server's default when undefined) and takes its snapshot;
 * another request then commits a new title for the post (its invalidation done); the loader
 * reads the title inside the transaction. Returns what getOrSet answered and what is cached.
 */
async function loadAfterAMissedCommit(env: Env, level: Transaction.ISOLATION_LEVELS | undefined): Promise<{ answered: unknown; cached: unknown }> {
  const { Post } = env.models;
  const { p1 } = await seed(env);
  const id = p1.get('id') as number;
  const transaction = await env.sequelize.transaction(level ? { isolationLevel: level } : {});
  try {
    await Post.findAll({ transaction }); // the snapshot is taken here
    await Post.update({ title: 'committed later' }, { where: { id } });
    const answered = await getOrSet(env.keyv, 'title', async () => (await Post.findByPk(id, { transaction }))!.get('title'), { dependsOn: [p1], transaction });
    await transaction.commit();
    return { answered, cached: await env.keyv.get('title') };
  } finally {
    if (!(transaction as unknown as { finished?: string }).finished) await transaction.rollback();
  }
}

matrix('getOrSet in a transaction reading from a snapshot', (env) => {
  it('REPEATABLE READ: the snapshot\'s value is returned, not stored', async () => {
    const { answered, cached } = await loadAfterAMissedCommit(env, Transaction.ISOLATION_LEVELS.REPEATABLE_READ);
    expect(answered).to.equal('p1');
    expect(cached).to.equal(undefined);
  });

  if (env.dialect === 'postgres') {
    it('SERIALIZABLE: the snapshot\'s value is returned, not stored', async () => {
      const { answered, cached } = await loadAfterAMissedCommit(env, Transaction.ISOLATION_LEVELS.SERIALIZABLE);
      expect(answered).to.equal('p1');
      expect(cached).to.equal(undefined);
    });
  } else {
    it('SERIALIZABLE on InnoDB reads the latest rows (locking reads): the value is stored', async () => {
      const { Post } = env.models;
      const { p1 } = await seed(env);
      const answered = await env.sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE }, async (transaction) =>
        getOrSet(env.keyv, 'title', async () => (await Post.findByPk(p1.get('id') as number, { transaction }))!.get('title'), { dependsOn: [p1], transaction }));
      expect(answered).to.equal('p1');
      expect(await env.keyv.get('title')).to.equal('p1');
    });
  }

  it('READ COMMITTED: each statement sees every commit before it; the value is stored', async () => {
    const { answered, cached } = await loadAfterAMissedCommit(env, Transaction.ISOLATION_LEVELS.READ_COMMITTED);
    expect(answered).to.equal('committed later');
    expect(cached).to.equal('committed later');
  });

  it('the server\'s default isolation decides when the transaction names none', async () => {
    const { answered, cached } = await loadAfterAMissedCommit(env, undefined);
    if (env.dialect === 'mariadb') {
      // InnoDB's default is REPEATABLE READ.
      expect(answered).to.equal('p1');
      expect(cached).to.equal(undefined);
    } else {
      expect(answered).to.equal('committed later');
      expect(cached).to.equal('committed later');
    }
  });
}, { dialects: ['postgres', 'mariadb'] });

matrix('getOrSet in a SQLite transaction', (env) => {
  it('the rollback journal admits no commit while a transaction reads: the value is stored', async () => {
    const { Post } = env.models;
    const { p1 } = await seed(env);
    const id = p1.get('id') as number;
    const answered = await env.sequelize.transaction(async (transaction) =>
      getOrSet(env.keyv, 'title', async () => (await Post.findByPk(id, { transaction }))!.get('title'), { dependsOn: [p1], transaction }));
    expect(answered).to.equal('p1');
    expect(await env.keyv.get('title')).to.equal('p1');
  });
}, { dialects: ['sqlite'] });
