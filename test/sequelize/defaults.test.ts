/**
 * Columns the database fills in at an insert (defaults, expressions) that no RETURNING brings
 * back: read once after the insert, so that the create's image and the instance's later old
 * images are exact rather than widened to every entry of the column's schemes.
 */
import { expect } from 'chai';
import { DataTypes, type Model, type ModelStatic } from 'sequelize';
import { matching } from '../../lib/index.js';
import { matrix, unique } from './support.js';

matrix('columns the database fills in', (env) => {
  let Doc: ModelStatic<Model>;
  before(async () => {
    Doc = env.sequelize.define('Doc', {
      title: DataTypes.STRING,
      status: { type: DataTypes.STRING, defaultValue: env.sequelize.literal("'draft'") },
    }, { tableName: unique('docs').toLowerCase() });
    await Doc.sync();
  });

  it('a create invalidates exactly the entries of the value the database chose, and so does the next update', async () => {
    await env.cache({ drafts: [matching(Doc, { status: 'draft' })], published: [matching(Doc, { status: 'published' })] });
    const doc = await Doc.create({ title: 'a' });
    await env.expectCache({ gone: ['drafts'], kept: ['published'] });
    await env.cache({ drafts: [matching(Doc, { status: 'draft' })] });
    await doc.update({ title: 'b' });
    await env.expectCache({ gone: ['drafts'], kept: ['published'] });
  });

  it('a model whose columns the instance holds after create sends no read-back', async () => {
    const { Author } = env.models;
    const queries: string[] = [];
    await Author.create({ name: 'x' }, { logging: (sql: string) => queries.push(sql) });
    expect(queries.filter((q) => /SELECT/i.test(q))).to.deep.equal([]);
  });
});
