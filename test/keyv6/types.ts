// Compiled by `npm run typecheck` against Keyv 6's types (test/keyv6/tsconfig.json): what a
// Keyv 6 application writes type-checks, through the `declare module 'keyv'` augmentation.
import Keyv from 'keyv';
import { attachKeyv, CleverStore, createKeyv, matching } from '../../lib/index.js';

export async function keyv6Usage(): Promise<void> {
  const store = new CleverStore();
  const positional: Keyv = new Keyv(store);
  const keyv: Keyv = attachKeyv(new Keyv({ store, namespace: 'app' }));
  const created: Keyv<number> = createKeyv(undefined, { namespace: 'app' });
  await keyv.set('k', { a: 1 }, { ttl: 60_000, dependsOn: ['t', matching('posts', { id: 1 })] });
  await keyv.set('n', 1, 1000);
  await keyv.setMany([{ key: 'a', value: 1, ttl: { ttl: 1000, dependsOn: ['t'] } }, { key: 'b', value: 2, ttl: 5 }]);
  await created.set('c', 3, { dependsOn: ['t'] });
  await positional.disconnect();
}
