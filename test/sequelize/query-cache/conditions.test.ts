/** The union of equality conjunctions a where implies. */
import { expect } from 'chai';
import { Op, Sequelize, literal } from 'sequelize';
import { metaOf } from '../../../lib/sequelize/meta.js';
import { conjunctionsOf, MAX_CONJUNCTIONS } from '../../../lib/sequelize/query-cache/conditions.js';
import { defineModels } from '../support.js';

describe('query cache: conditions of a where', () => {
  const sequelize = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
  const { Post } = defineModels(sequelize);
  const of = (where: unknown) => conjunctionsOf(metaOf(Post as never), where);
  after(() => sequelize.close());

  it('equalities, Op.eq, Op.is null and column names make one conjunction', () => {
    expect(of({ authorId: 7, status: { [Op.eq]: 'draft' }, title: { [Op.is]: null } })).to.deep.equal([{ authorId: 7, status: 'draft', title: null }]);
    expect(of({ author_id: 7 })).to.deep.equal([{ authorId: 7 }]);
    expect(of({ [Op.and]: [{ authorId: 7 }, { status: 'x' }] })).to.deep.equal([{ authorId: 7, status: 'x' }]);
  });

  it('IN lists and ORs of equalities are unions; AND multiplies them out', () => {
    expect(of({ authorId: [1, 2] })).to.deep.equal([{ authorId: 1 }, { authorId: 2 }]);
    expect(of({ authorId: { [Op.in]: [1, 2] }, status: { [Op.or]: ['a', 'b'] } })).to.deep.equal([
      { authorId: 1, status: 'a' }, { authorId: 1, status: 'b' }, { authorId: 2, status: 'a' }, { authorId: 2, status: 'b' },
    ]);
    expect(of({ [Op.or]: [{ authorId: 1 }, { status: 'a' }] })).to.deep.equal([{ authorId: 1 }, { status: 'a' }]);
  });

  it('conditions that pin nothing leave the other fields; an OR with one of them is every row', () => {
    expect(of({ authorId: 7, views: { [Op.gt]: 3 }, title: { [Op.like]: 'a%' } })).to.deep.equal([{ authorId: 7 }]);
    expect(of({ [Op.or]: [{ authorId: 1 }, { views: { [Op.gt]: 3 } }] })).to.deep.equal([{}]);
    expect(of({ authorId: literal('7') })).to.deep.equal([{}]);
    expect(of(Sequelize.where(Sequelize.col('views'), 3))).to.deep.equal([{}]);
    expect(of({ '$author.name$': 'x' })).to.deep.equal([{}]);
    expect(of(undefined)).to.deep.equal([{}]);
  });

  it('contradictions and empty IN match no row; too many conjunctions stay a superset', () => {
    expect(of({ [Op.and]: [{ authorId: 1 }, { authorId: 2 }] })).to.deep.equal([]);
    expect(of({ authorId: { [Op.in]: [] } })).to.deep.equal([]);
    const most = Array.from({ length: MAX_CONJUNCTIONS }, (_, i) => i);
    expect(of({ authorId: most })).to.have.length(MAX_CONJUNCTIONS);
    expect(of({ authorId: [...most, -1] })).to.deep.equal([{}]);
    const product = of({ authorId: most, status: ['a', 'b'] });
    expect(product).to.have.length(MAX_CONJUNCTIONS);
    expect(product.every((c) => Object.keys(c).length === 1 && 'authorId' in c)).to.equal(true);
  });
});
