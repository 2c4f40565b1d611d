import { expect } from 'chai';
import { InvalidOptionError, withDependencies, type CleverStore } from '../../lib/index.js';
import { backends, keyvFor } from '../support/backends.js';

for (const backend of backends.filter((b) => b.name === 'memory' || b.name === 'redis')) {
  describe(`bounded input (${backend.name})`, () => {
    let store: CleverStore;
    afterEach(async () => {
      await store.clear();
      await store.disconnect();
    });

    it('refuses a write with more dependencies than maxDependencies (default 1000), naming the count, before anything is written', async () => {
      store = backend.store();
      const keyv = keyvFor(store);
      const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);
      expect(await keyv.set('ok', 1, { dependsOn: tags(1000) })).to.equal(true);
      const error = await store.set('big', '1', { dependsOn: tags(1001) }).then(() => expect.fail('should throw'), (e: Error) => e);
      expect(error).to.be.instanceOf(InvalidOptionError).and.instanceOf(TypeError);
      expect(error.message).to.contain('1001 dependencies').and.contain('maxDependencies (1000)');
      expect(await store.get('big')).to.equal(undefined);
      expect(await store.invalidate('t999')).to.equal(1);
    });

    it('invalidates any number of dependencies at once, given as an array', async () => {
      store = backend.store();
      const keyv = keyvFor(store);
      const tags = Array.from({ length: 100_000 }, (_, i) => `tag:${i}`);
      await keyv.setMany(Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: i, ttl: { dependsOn: [tags[i * 997]!] } })));
      await keyv.set('other', 1, { dependsOn: ['unrelated'] });
      expect(await store.invalidate(tags)).to.equal(100);
      expect(await keyv.get('k0')).to.equal(undefined);
      expect(await keyv.get('k99')).to.equal(undefined);
      expect(await keyv.get('other')).to.equal(1);
    });

    it('counts withDependencies() too, and checks every setMany entry before writing any', async () => {
      store = backend.store({ maxDependencies: 3 });
      await withDependencies(['a', 'b'], async () => {
        expect(await store.set('two', '1', { dependsOn: ['c'] })).to.equal(true);
        await store.set('four', '1', { dependsOn: ['c', 'd'] }).then(() => expect.fail('should throw'), (e: Error) => expect(e.message).to.contain('4 dependencies'));
      });
      await store.setMany([
        { key: 'first', value: '1', ttl: { dependsOn: ['a'] } },
        { key: 'second', value: '1', ttl: { dependsOn: ['a', 'b', 'c', 'd'] } },
      ]).then(() => expect.fail('should throw'), (e: Error) => expect(e).to.be.instanceOf(InvalidOptionError));
      expect(await store.get('first')).to.equal(undefined);
      expect(await store.get('four')).to.equal(undefined);
      expect(await store.get('two')).to.equal('1');
    });
  });
}
