// cacheable 2 on keyv-clever: CleverStore's Keyv as the primary store (an L1 memory layer in
// front of it would keep serving what was invalidated).
// Run: npx tsx examples/cache-libraries/cacheable.ts
import { Cacheable } from 'cacheable';
import Keyv from 'keyv';
import { pathToFileURL } from 'node:url';
import { CleverStore, withDependencies } from '../../lib/index.js';

export async function example(store = new CleverStore()): Promise<string[]> {
  const log: string[] = [];
  const cache = new Cacheable({ primary: new Keyv({ store, namespace: 'cacheable-example' }) });
  let renders = 0;
  const render = (page: string) => withDependencies(['menu', `page:${page}`],
    () => cache.getOrSet(`html:${page}`, async () => { renders++; return `<html>${page}</html>`; }));

  await render('home');
  await render('home');
  await render('about');
  log.push(`after 3 reads: ${renders} renders`);
  log.push(`invalidated ${await store.invalidate('page:about')} entry`);
  await render('home');
  await render('about');
  log.push(`after 2 more reads: ${renders} renders`);
  log.push(`the menu changed: invalidated ${await store.invalidate('menu')} entries`);
  await store.disconnect();
  return log;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log((await example()).join('\n'));
