/**
 * Rows the database changes by itself through foreign keys within one table (a category's
 * children, a comment's replies): their entries go with the write that cascaded into them.
 */
import { expect } from 'chai';
import { DataTypes, type Model, type ModelStatic } from 'sequelize';
import { matching } from '../../lib/index.js';
import { related } from '../../lib/sequelize/index.js';
import { matrix, unique } from './support.js';

matrix('foreign keys within one table', (env) => {
  let Category: ModelStatic<Model>;
  before(async () => {
    Category = env.sequelize.define('Category', { name: DataTypes.STRING }, { tableName: unique('categories').toLowerCase() });
    Category.hasMany(Category, { as: 'children', foreignKey: { name: 'parentId', allowNull: true }, onDelete: 'CASCADE', onUpdate: 'CASCADE' });
    Category.belongsTo(Category, { as: 'parent', foreignKey: { name: 'parentId', allowNull: true }, onDelete: 'CASCADE', onUpdate: 'CASCADE' });
    await Category.sync(); // in the block's own schema or database, dropped with it
    // SQLite enforces foreign keys (and so cascades) only when asked.
    if (env.dialect === 'sqlite') await env.sequelize.query('PRAGMA foreign_keys = ON');
  });

  it('a delete that cascades to child rows of the same table invalidates their entries', async () => {
    const root = await Category.create({ name: 'root' });
    const child = await Category.create({ name: 'child', parentId: root.get('id') });
    const grandchild = await Category.create({ name: 'grandchild', parentId: child.get('id') });
    const other = await Category.create({ name: 'other' });
    await env.cache({
      child: [child], grandchild: [grandchild], childKids: [related(child, 'children')],
      byName: [matching(Category, { name: 'grandchild' })], other: [other],
    });
    await root.destroy();
    await env.expectCache({ gone: ['child', 'grandchild', 'childKids', 'byName'] });
  });

  it('a key change that cascades to child rows of the same table invalidates their entries', async () => {
    const root = await Category.create({ name: 'root' });
    const child = await Category.create({ name: 'child', parentId: root.get('id') });
    await env.cache({ child: [child], rootKids: [related(root, 'children')], byParent: [matching(Category, { parentId: 4242 })] });
    const moved = Category.update({ id: 4242 }, { where: { id: root.get('id') } });
    if (env.dialect === 'mariadb') {
      // InnoDB refuses an ON UPDATE CASCADE that comes back to the table it updates.
      await moved.then(() => expect.fail('MariaDB should refuse'), (error: Error) => expect(error.message).to.match(/foreign key/i));
      await env.expectCache({ kept: ['child', 'rootKids', 'byParent'] });
      return;
    }
    await moved;
    expect((await Category.findByPk(child.get('id') as number))!.get('parentId')).to.equal(4242);
    await env.expectCache({ gone: ['child', 'rootKids', 'byParent'] });
  });
});
