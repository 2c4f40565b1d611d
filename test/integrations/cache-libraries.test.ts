import { expect } from 'chai';
import { createCache } from 'cache-manager';
import { Cacheable } from 'cacheable';
import Keyv from 'keyv';
import { type CleverStore, matching, withDependencies } from '../../lib/index.js';
import { backends, uniqueNamespace } from '../support/backends.js';

for (const backend of backends) {
  describe(`cache libraries on CleverStore (${backend.name})`, () => {
    let store: CleverStore;
    let keyv: Keyv;
    beforeEach(() => {
      store = backend.store();
      keyv = new Keyv({ store, namespace: uniqueNamespace('libs') });
    });
    afterEach(async () => {
      await keyv.clear();
      await store.disconnect();
    });

    it('cache-manager 7: set and wrap record dependencies given by withDependencies', async () => {
      const cache = createCache({ stores: [keyv] });
      let loads = 0;
      const load = async () => { loads += 1; return { posts: loads }; };
      await withDependencies(['posts'], () => cache.set('listing', 'v1', 60_000));
      const wrapped = await withDependencies([matching('posts', { authorId: 7 })], () => cache.wrap('author:7', load, 60_000));
      await cache.set('unrelated', 'stays');
      expect(wrapped).to.deep.equal({ posts: 1 });
      expect(await withDependencies([matching('posts', { authorId: 7 })], () => cache.wrap('author:7', load, 60_000))).to.deep.equal({ posts: 1 });

      expect(await store.invalidate(matching('posts', { authorId: 7 }))).to.equal(1);
      expect(await cache.get('author:7')).to.equal(undefined);
      expect(await cache.get('listing')).to.equal('v1');
      expect(await withDependencies([matching('posts', { authorId: 7 })], () => cache.wrap('author:7', load, 60_000))).to.deep.equal({ posts: 2 });

      expect(await store.invalidate('posts')).to.equal(1);
      expect(await cache.get('listing')).to.equal(undefined);
      expect(await cache.get('unrelated')).to.equal('stays');
    });

    it('cacheable 2 (CleverStore as the primary store): set, getOrSet and wrap record dependencies', async () => {
      const cache = new Cacheable({ primary: keyv });
      await withDependencies(['users'], () => cache.set('u', { id: 1 }));
      const loaded = await withDependencies(['users'], () => cache.getOrSet('list', async () => ['a', 'b']));
      const double = cache.wrap(async (n: number) => n * 2, { keyPrefix: 'double' });
      expect(await withDependencies(['math'], () => double(21))).to.equal(42);
      await cache.set('other', 'stays');
      expect(loaded).to.deep.equal(['a', 'b']);

      expect(await store.invalidate('users')).to.equal(2);
      expect(await cache.get('u')).to.equal(undefined);
      expect(await cache.get('list')).to.equal(undefined);
      expect(await cache.get('other')).to.equal('stays');
      expect(await store.invalidate('math')).to.equal(1);
    });
  });
}
