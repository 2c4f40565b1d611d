/** Values survive the round trip through JSON with their JavaScript types. */
import { expect } from 'chai';
import { decode, encode } from '../../../lib/sequelize/query-cache/codec.js';

describe('query cache: value codec', () => {
  const roundTrip = (value: unknown) => decode(JSON.parse(JSON.stringify(encode(value))));

  it('keeps dates, bigints, buffers, bytes, non-finite numbers, -0 and undefined', () => {
    const value = { d: new Date('2024-01-02T03:04:05.678Z'), bad: new Date(Number.NaN), n: 12345678901234567890n, b: Buffer.from([1, 2, 255]), y: new Uint8Array([9]), inf: Infinity, nan: Number.NaN, neg: -0, u: undefined };
    const back = roundTrip(value) as typeof value;
    expect(back).to.deep.equal(value);
    expect(Object.is(back.neg, -0)).to.equal(true);
    expect(Buffer.isBuffer(back.b)).to.equal(true);
    expect('u' in back).to.equal(true);
  });

  it('keeps JSON content as it is, objects that look like tags included', () => {
    const value = { json: { '\u0000': 'd', v: 1, list: [1, 'a', null, { x: true }] } };
    expect(roundTrip(value)).to.deep.equal(value);
  });

  it('decodes into fresh objects every time', () => {
    const encoded = JSON.parse(JSON.stringify(encode({ a: { b: [1] } })));
    const x = decode(encoded) as { a: { b: number[] } };
    const y = decode(encoded) as { a: { b: number[] } };
    x.a.b.push(2);
    expect(y.a.b).to.deep.equal([1]);
  });

  it('refuses class instances it does not know', () => {
    class Thing {}
    expect(() => encode({ t: new Thing() })).to.throw(/not encodable/);
  });
});
