/** Cache keys: stable for equal options, distinct for any difference, no value in sight. */
import { expect } from 'chai';
import { Op, Sequelize, literal, fn, col } from 'sequelize';
import { cacheKey, UnkeyableOption } from '../../../lib/sequelize/query-cache/key.js';
import { defineModels } from '../support.js';

describe('query cache: keys', () => {
  const sequelize = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
  const { Post, Tag } = defineModels(sequelize);
  const key = (options: Record<string, unknown>, model = Post, finder = 'findAll', args: unknown[] = []) => cacheKey({ model: model as never, finder, args, options });
  after(() => sequelize.close());

  it('names the model and finder, hashes the rest', () => {
    const k = key({ where: { title: 'a secret' } });
    expect(k).to.match(/^q:Post:findAll:[A-Za-z0-9_-]{43}$/);
    expect(k).not.to.include('secret');
  });

  it('ignores object key order and options that do not shape the result', () => {
    const t = {};
    expect(key({ where: { a: 1, b: 2 }, limit: 3 })).to.equal(key({ limit: 3, where: { b: 2, a: 1 } }));
    expect(key({ where: { a: 1 }, transaction: t, logging: () => undefined, benchmark: true })).to.equal(key({ where: { a: 1 } }));
  });

  it('differs for any option, operator, value type, model, scope, finder or argument', () => {
    const keys = [
      key({ where: { a: 1 } }), key({ where: { a: '1' } }), key({ where: { a: 1n } }), key({ where: { a: { [Op.gt]: 1 } } }), key({ where: { a: { [Op.gte]: 1 } } }),
      key({ where: { a: new Date(1) } }), key({ where: { a: literal('1') } }), key({ where: { a: fn('lower', col('b')) } }), key({ where: { a: 1 }, raw: true }),
      key({ where: { a: 1 }, include: [Tag] }), key({ where: { a: 1 }, include: ['tags'] }), key({ where: { a: 1 } }, Post.scope('published')), key({ where: { a: 1 } }, Tag),
      key({ where: { a: 1 } }, Post, 'findOne'), key({}, Post, 'findByPk', [1]), key({}, Post, 'findByPk', ['1']), key({ attributes: ['a', 'b'] }), key({ attributes: ['b', 'a'] }),
    ];
    expect(new Set(keys).size).to.equal(keys.length);
  });

  it('refuses what it cannot write out stably (functions, class instances)', () => {
    class Thing {}
    expect(() => key({ where: { a: new Thing() } })).to.throw(UnkeyableOption, /options\.where\.a/);
    expect(() => key({ rejectOnEmpty: Thing })).to.throw(UnkeyableOption);
  });
});
