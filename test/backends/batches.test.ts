import { expect } from 'chai';
import { PendingBatches } from '../../lib/backends/redis/batches.js';

describe('PendingBatches', () => {
  it('keeps one open batch per bucket until it is removed, then opens a fresh one', () => {
    const pending = new PendingBatches();
    const a = pending.open('ns', '{ns:0}', 16);
    expect(pending.open('ns', '{ns:0}', 16)).to.equal(a);
    expect(a).to.include({ ns: 'ns', p: '{ns:0}', count: 16 });
    expect(pending.get('{ns:0}')).to.equal(a);
    pending.remove(a);
    expect(pending.get('{ns:0}')).to.equal(undefined);
    expect(pending.size).to.equal(0);
    const b = pending.open('ns', '{ns:0}', 16);
    expect(b).to.not.equal(a);
    expect(b.gets).to.deep.equal([]);
  });

  it('lists the pending batches oldest first, as a copy that removing does not disturb', () => {
    const pending = new PendingBatches();
    const [x, y, z] = ['{n:2}', '{n:0}', '{n:1}'].map((p) => pending.open('n', p, 3));
    const listed = pending.all();
    expect(listed).to.deep.equal([x, y, z]);
    for (const batch of listed) if (batch === y) pending.remove(batch);
    expect(listed).to.have.length(3);
    expect(pending.all()).to.deep.equal([x, z]);
    expect(pending.size).to.equal(2);
  });

  it('ignores the removal of a batch that is not the pending one of its bucket (a copy resent after a moved slot, or one already sent)', () => {
    const pending = new PendingBatches();
    const sent = pending.open('n', '{n:0}', 1);
    pending.remove(sent);
    const next = pending.open('n', '{n:0}', 1);
    pending.remove(sent);
    pending.remove({ ...next, sets: [] });
    expect(pending.get('{n:0}')).to.equal(next);
    expect(pending.all()).to.deep.equal([next]);
  });
});
