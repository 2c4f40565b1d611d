/**
 * Upserts invalidate the row they really update: the conflict is looked for with the values as
 * written (setters applied), on every unique key MariaDB's ON DUPLICATE KEY can hit (a migration's
 * too), and bulkCreate with updateOnDuplicate reads the rows it updates even with individualHooks.
 */
import { expect } from 'chai';
import { DataTypes, type Model, type ModelStatic } from 'sequelize';
import { matching } from '../../lib/index.js';
import { matrix, unique } from './support.js';

matrix('upserts: the row really updated', (env) => {
  let Account: ModelStatic<Model>;
  let Badge: ModelStatic<Model>;
  before(async () => {
    Account = env.sequelize.define('Account', {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      email: {
        type: DataTypes.STRING, allowNull: false, unique: true,
        set(this: Model, value: string) { this.setDataValue('email', String(value).trim().toLowerCase()); },
      },
      plan: { type: DataTypes.STRING, allowNull: false, defaultValue: 'free' },
    }, { tableName: unique('accounts').toLowerCase(), timestamps: false });
    // `code` is unique in the database only: a migration declared it, the model does not.
    Badge = env.sequelize.define('Badge', {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      code: { type: DataTypes.STRING, allowNull: false },
      level: { type: DataTypes.STRING, allowNull: false, defaultValue: 'bronze' },
    }, { tableName: unique('badges').toLowerCase(), timestamps: false });
    await Account.sync();
    await Badge.sync();
    const qi = env.sequelize.getQueryInterface();
    await env.sequelize.query(`CREATE UNIQUE INDEX ${qi.quoteIdentifier(`${Badge.getTableName() as string}_code`)} ON ${qi.quoteIdentifier(Badge.getTableName() as string)} (${qi.quoteIdentifier('code')})`);
  });
  beforeEach(async () => {
    await Account.destroy({ where: {}, hooks: false });
    await Badge.destroy({ where: {}, hooks: false });
  });

  it('a unique key going through a setter: the existing row it updates is invalidated', async () => {
    await Account.create({ email: 'ann@example.com', plan: 'free' });
    await env.cache({ free: [matching(Account, { plan: 'free' })], pro: [matching(Account, { plan: 'pro' })], team: [matching(Account, { plan: 'team' })] });
    await Account.upsert({ email: '  Ann@Example.com', plan: 'pro' });
    expect(await Account.count()).to.equal(1);
    await env.expectCache({ gone: ['free', 'pro'], kept: ['team'] });
  });

  if (env.dialect === 'mariadb') {
    // (On SQLite and PostgreSQL, Sequelize rejects this combination before it writes anything.)
    it('bulkCreate with updateOnDuplicate and individualHooks: the rows updated are invalidated', async () => {
      const { Item } = env.models;
      await Item.create({ sku: 's1', active: true });
      await Item.create({ sku: 's2' });
      await env.cache({ active: [matching(Item, { active: true })], inactive: [matching(Item, { active: false })], s2: [matching(Item, { sku: 's2' })] });
      await Item.bulkCreate([{ sku: 's1', active: false }], { updateOnDuplicate: ['active'], individualHooks: true });
      expect((await Item.findOne({ where: { sku: 's1' } }))!.get('active')).to.equal(false);
      await env.expectCache({ gone: ['active', 'inactive'], kept: ['s2'] });
    });

    it('ON DUPLICATE KEY on a unique index only a migration declares: the row it updates is invalidated, exactly', async () => {
      await Badge.create({ code: 'b1', level: 'bronze' });
      await Badge.create({ code: 'b2', level: 'gold' });
      await env.cache({ bronze: [matching(Badge, { level: 'bronze' })], silver: [matching(Badge, { level: 'silver' })], gold: [matching(Badge, { level: 'gold' })] });
      await Badge.upsert({ code: 'b1', level: 'silver' });
      expect(await Badge.count()).to.equal(2);
      await env.expectCache({ gone: ['bronze', 'silver'], kept: ['gold'] });
    });

    it('the same through bulkCreate with updateOnDuplicate', async () => {
      await Badge.create({ code: 'b1', level: 'bronze' });
      await Badge.create({ code: 'b2', level: 'gold' });
      await env.cache({ bronze: [matching(Badge, { level: 'bronze' })], silver: [matching(Badge, { level: 'silver' })], gold: [matching(Badge, { level: 'gold' })] });
      await Badge.bulkCreate([{ code: 'b1', level: 'silver' }], { updateOnDuplicate: ['level'] });
      expect(await Badge.count()).to.equal(2);
      await env.expectCache({ gone: ['bronze', 'silver'], kept: ['gold'] });
    });
  }
});
