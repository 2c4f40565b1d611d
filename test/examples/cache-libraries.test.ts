import { expect } from 'chai';
import { CleverStore } from '../../lib/index.js';
import { example as cacheManager } from '../../examples/cache-libraries/cache-manager.js';
import { example as cacheable } from '../../examples/cache-libraries/cacheable.js';
import { REDIS_URL } from '../support/backends.js';

for (const [name, make] of [['memory', () => new CleverStore()], ['redis', () => new CleverStore(REDIS_URL)]] as const) {
  describe(`examples: cache libraries (${name})`, () => {
    it('cache-manager: only the changed author\'s entry is recomputed', async () => {
      const store = make();
      store.namespace = 'cache-manager-example';
      await store.clear();
      expect(await cacheManager(store)).to.deep.equal(['after 3 reads: 2 queries', 'invalidated 1 entry', 'after 2 more reads: 3 queries']);
    });
    it('cacheable: tags invalidate exactly their pages', async () => {
      const store = make();
      store.namespace = 'cacheable-example';
      await store.clear();
      expect(await cacheable(store)).to.deep.equal(['after 3 reads: 2 renders', 'invalidated 1 entry', 'after 2 more reads: 3 renders', 'the menu changed: invalidated 2 entries']);
    });
  });
}
