// npm run demo — keyv-clever in one screen. Runs on the embedded in-memory store, or on Redis
// when REDIS_URL is set.
import Keyv from 'keyv';
import { CleverStore, matching } from '../lib/index.js';

const store = process.env.REDIS_URL ? new CleverStore(process.env.REDIS_URL) : new CleverStore();
const keyv = new Keyv({ store, namespace: 'demo' });
await keyv.clear();

const entries: Array<[string, unknown[]]> = [
  ['homepage', ['homepage', matching('posts', { status: 'published' })]],
  ['author:7:posts', [matching('posts', { authorId: 7 })]],
  ['author:8:posts', [matching('posts', { authorId: 8 })]],
  ['post:42', [matching('posts', { id: 42 })]],
  ['stats', [matching('posts')]],
  ['users:count', [matching('users')]],
];

async function show(step: string, action: () => Promise<number>): Promise<void> {
  const started = performance.now();
  const removed = await action();
  const ms = (performance.now() - started).toFixed(2);
  const states = await keyv.getMany(entries.map(([key]) => key));
  console.log(`\n${step}  (${removed} removed in ${ms} ms)`);
  for (const [i, [key]] of entries.entries()) console.log(`  ${states[i] === undefined ? 'MISS ✗' : 'HIT  ✓'}  ${key}`);
}

const fill = async () => {
  for (const [key, dependsOn] of entries) await keyv.set(key, `value of ${key}`, { ttl: 60_000, dependsOn: dependsOn as never });
  return 0;
};

console.log(`keyv-clever demo on the ${store.backendKind} backend`);
await show('cache filled', fill);
await show("post 42 (author 7, draft) is published", () => store.invalidateRequest({
  tags: [],
  rows: [
    { table: 'posts', values: { id: 'n42', authorId: 'n7', status: 'sdraft' } },
    { table: 'posts', values: { id: 'n42', authorId: 'n7', status: 'spublished' } },
  ],
}));
await show('cache refilled', fill);
await show("store.invalidate('homepage')", () => store.invalidate('homepage'));
await show('cache refilled', fill);
await show("store.invalidate(matching('users'))", () => store.invalidate(matching('users')));

await keyv.clear();
await store.disconnect();
