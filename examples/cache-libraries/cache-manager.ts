// cache-manager 7 on keyv-clever: `cache.wrap` as usual, dependencies attached from outside.
// Run: npx tsx examples/cache-libraries/cache-manager.ts
import { createCache } from 'cache-manager';
import Keyv from 'keyv';
import { pathToFileURL } from 'node:url';
import { CleverStore, matching, withDependencies } from '../../lib/index.js';

export async function example(store = new CleverStore()): Promise<string[]> {
  const log: string[] = [];
  const cache = createCache({ stores: [new Keyv({ store, namespace: 'cache-manager-example' })] });
  let queries = 0;
  const postsOf = (authorId: number) => withDependencies([matching('posts', { authorId })],
    () => cache.wrap(`author:${authorId}:posts`, async () => { queries++; return [`post of ${authorId}`]; }, 60_000));

  await postsOf(7);
  await postsOf(7);
  await postsOf(8);
  log.push(`after 3 reads: ${queries} queries`);
  // A post of author 7 changed (the Sequelize hooks do this for you): only author 7's entry goes.
  log.push(`invalidated ${await store.invalidate(matching('posts', { authorId: 7 }))} entry`);
  await postsOf(7);
  await postsOf(8);
  log.push(`after 2 more reads: ${queries} queries`);
  await store.disconnect();
  return log;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log((await example()).join('\n'));
