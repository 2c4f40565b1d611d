// The Sequelize hooks with a Keyv 6 (run by the Keyv 6 job on PostgreSQL): the Keyv used natively
// or through Keyv 6's bridge, and a cache that fails while nobody listens for Keyv 6's 'error'.
import { expect } from 'chai';
import Keyv, { KeyvBridgeAdapter } from 'keyv6';
import type { Sequelize } from 'sequelize';
import { CleverStore } from '../../lib/index.js';
import { registerSequelizeHooks, related } from '../../lib/sequelize/index.js';
import { freePort } from '../support/redis-server.js';
import { closeSequelize, defineModels, openSequelize, openStore, unique, type Models } from '../sequelize/support.js';

describe('registerSequelizeHooks with a Keyv 6 [postgres]', function () {
  this.timeout(30_000);
  let sequelize: Sequelize;
  let models: Models;
  before(async () => {
    sequelize = await openSequelize('postgres');
    models = defineModels(sequelize);
    await sequelize.sync();
  });
  after(async () => {
    await closeSequelize(sequelize);
  });

  const wirings: Array<[string, (store: CleverStore) => Keyv]> = [
    ['used natively', (store) => new Keyv({ store, namespace: unique('kc6') })],
    ["wrapped in Keyv 6's bridge", (store) => new Keyv({ store: new KeyvBridgeAdapter(store), namespace: unique('kc6-bridge') })],
  ];
  for (const [how, wire] of wirings) {
    it(`attaches a Keyv 6 ${how}: entries cached with dependencies are invalidated by writes`, async () => {
      const store = openStore('redis');
      const keyv = wire(store); // not attached: registerSequelizeHooks does it
      const hooks = registerSequelizeHooks(sequelize, keyv);
      try {
        const author = await models.Author.create({ name: 'a' });
        const other = await models.Author.create({ name: 'b' });
        await models.Post.create({ title: 'p', authorId: author.get('id') });
        expect(await keyv.set('posts', 'list', { ttl: 60_000, dependsOn: [related(author, 'posts')] })).to.equal(true);
        expect(await keyv.set('other', 'kept', { dependsOn: [related(other, 'posts')] })).to.equal(true);
        expect(await keyv.get('posts')).to.equal('list');
        await models.Post.create({ title: 'q', authorId: author.get('id') });
        expect(await keyv.get('posts')).to.equal(undefined);
        expect(await keyv.get('other')).to.equal('kept');
      } finally {
        hooks.unregister();
        await keyv.clear();
        await store.disconnect();
      }
    });
  }

  it("a failing cache with no 'error' listener on Keyv 6 never fails the database write", async () => {
    const port = await freePort(); // nothing listens there: every invalidation fails
    const store = new CleverStore(`redis://127.0.0.1:${port}`, { sweepInterval: 0, retryStrategy: () => 50 });
    const keyv = new Keyv({ store, namespace: unique('kc6-down') });
    const hooks = registerSequelizeHooks(sequelize, keyv);
    try {
      const author = await models.Author.create({ name: 'written' });
      await author.update({ name: 'updated' });
      await sequelize.transaction(async (transaction) => {
        await models.Post.create({ title: 'in a transaction', authorId: author.get('id') }, { transaction });
      });
      expect(await models.Author.count({ where: { name: 'updated' } })).to.equal(1);
      expect(store.pendingInvalidations).to.be.greaterThan(0); // failed, queued for retry, not thrown
    } finally {
      hooks.unregister();
      await store.disconnect();
    }
  });
});
