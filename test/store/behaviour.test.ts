import { internalsOf } from '../../lib/store/internal.js';
import { expect } from 'chai';
import Keyv from 'keyv';
import { type CleverStore, matching, withDependencies, type InvalidateEvent } from '../../lib/index.js';
import { backends, callerClientBackends, keyvFor, uniqueNamespace } from '../support/backends.js';
import { eventually } from '../support/eventually.js';

/** The Keyv major this run has installed (the Keyv 6 job runs this suite too). */
const KEYV_MAJOR = typeof (Keyv.prototype as { onHook?: unknown }).onHook === 'function' ? 6 : 5;

// One behaviour suite, run unchanged against every backend, and on clients the caller made in each protocol.
for (const backend of [...backends, ...callerClientBackends]) {
  describe(`CleverStore behaviour (${backend.name})`, () => {
    let store: CleverStore;
    let keyv: Keyv;

    beforeEach(() => {
      store = backend.store();
      keyv = keyvFor(store);
    });
    afterEach(async () => {
      await keyv.clear();
      await store.disconnect();
    });

    async function present(...keys: string[]): Promise<Record<string, boolean>> {
      const out: Record<string, boolean> = {};
      for (const k of keys) out[k] = (await keyv.get(k)) !== undefined;
      return out;
    }

    it('stores values through stock Keyv with { ttl, dependsOn } and a plain numeric ttl', async () => {
      expect(await keyv.set('a', { n: 1 }, { ttl: 60_000, dependsOn: ['t'] })).to.equal(true);
      expect(await keyv.set('b', [1, 2], 60_000)).to.equal(true);
      expect(await keyv.set('c', 'plain')).to.equal(true);
      expect(await keyv.get('a')).to.deep.equal({ n: 1 });
      expect(await keyv.get('b')).to.deep.equal([1, 2]);
      expect(await keyv.get('c')).to.equal('plain');
      expect(await keyv.has('a')).to.equal(true);
      expect(await keyv.has('zzz')).to.equal(false);
    });

    it('reads the eviction policy whatever the protocol: a store that refuses unsafe eviction works on a safe server', async () => {
      const strict = backend.store({ onUnsafeEviction: 'refuse' });
      const errors: Error[] = [];
      strict.on('error', (e) => errors.push(e));
      const guarded = keyvFor(strict);
      try {
        expect(await guarded.set('k', 'v', { dependsOn: ['e'] })).to.equal(true);
        expect(await guarded.get('k')).to.equal('v');
        expect(await strict.invalidate('e')).to.equal(1);
        expect(errors).to.deep.equal([]);
      } finally {
        await guarded.clear();
        await strict.disconnect();
      }
    });

    it('invalidating a tag removes exactly its entries and leaves every other entry', async () => {
      await keyv.set('p1', 1, { dependsOn: ['posts'] });
      await keyv.set('p2', 2, { dependsOn: ['posts'] });
      await keyv.set('u1', 3, { dependsOn: ['users'] });
      await keyv.set('u2', 4, { dependsOn: ['users', 'profiles'] });
      await keyv.set('plain', 5);
      await keyv.set('postsish', 6, { dependsOn: ['posts2', 'post', 'Posts'] });
      expect(await store.invalidate('posts')).to.equal(2);
      expect(await present('p1', 'p2', 'u1', 'u2', 'plain', 'postsish')).to.deep.equal({
        p1: false, p2: false, u1: true, u2: true, plain: true, postsish: true,
      });
      expect(await store.invalidate('posts')).to.equal(0);
    });

    it('an entry with several tags goes when any one is invalidated, and leaves the other indexes', async () => {
      await keyv.set('multi', 'v', { dependsOn: ['a', 'b', 'c'] });
      await keyv.set('only-b', 'v', { dependsOn: ['b'] });
      expect(await store.entriesFor('c')).to.deep.equal(['multi']);
      expect(await store.invalidate('a')).to.equal(1);
      expect(await present('multi', 'only-b')).to.deep.equal({ multi: false, 'only-b': true });
      expect(await store.entriesFor('b')).to.deep.equal(['only-b']);
      expect(await store.entriesFor('c')).to.deep.equal([]);
      expect(await store.invalidate('c')).to.equal(0);
    });

    it('one tag on many entries removes them all and counts them once each', async () => {
      const keys = Array.from({ length: 120 }, (_, i) => `k${i}`);
      await keyv.setMany(keys.map((key) => ({ key, value: key, ttl: { dependsOn: ['shared', `own-${key}`] } })));
      await keyv.set('survivor', 1, { dependsOn: ['other'] });
      expect(await store.invalidate('shared', 'own-k1', 'own-k2')).to.equal(120);
      expect((await keyv.getMany(keys)).every((v) => v === undefined)).to.equal(true);
      expect(await keyv.get('survivor')).to.equal(1);
    });

    it('ttl expiry removes the entry and its index members', async () => {
      await keyv.set('short', 1, { ttl: 40, dependsOn: ['exp'] });
      await keyv.set('long', 2, { ttl: 60_000, dependsOn: ['exp'] });
      await eventually(async () => (await keyv.get('short')) === undefined, { what: 'the 40 ms entry expiring' });
      await store.sweep();
      expect(await store.entriesFor('exp')).to.deep.equal(['long']);
      expect(await store.invalidate('exp')).to.equal(1);
    });

    it('re-setting a key replaces its dependencies', async () => {
      await keyv.set('k', 'v1', { dependsOn: ['old', 'both'] });
      await keyv.set('k', 'v2', { dependsOn: ['new', 'both'] });
      expect(await store.invalidate('old')).to.equal(0);
      expect(await keyv.get('k')).to.equal('v2');
      expect(await store.invalidate('new')).to.equal(1);
      expect(await keyv.get('k')).to.equal(undefined);

      await keyv.set('k', 'v3', { dependsOn: ['x'] });
      await keyv.set('k', 'v4'); // no dependencies any more
      expect(await store.invalidate('x')).to.equal(0);
      expect(await keyv.get('k')).to.equal('v4');
    });

    it('delete forgets the dependencies of the deleted entry', async () => {
      await keyv.set('k', 1, { dependsOn: ['gone'] });
      expect(await keyv.delete('k')).to.equal(true);
      expect(await keyv.delete('k')).to.equal(false);
      await keyv.set('k', 2);
      expect(await store.invalidate('gone')).to.equal(0);
      expect(await keyv.get('k')).to.equal(2);
    });

    it('namespaces are isolated for clear and invalidate', async () => {
      // Keyv points its store at its namespace; switching it by hand shows what two Keyvs would see.
      const [a, b] = [uniqueNamespace('ns-a'), uniqueNamespace('ns-a:b')];
      const put = async (ns: string, key: string, value: string, tag?: string) => {
        store.namespace = ns;
        await store.set(key, value, tag ? { dependsOn: [tag] } : undefined);
      };
      const read = async (ns: string, key: string) => {
        store.namespace = ns;
        return store.get(key);
      };
      await put(a, 'same', 'A', 'x');
      await put(b, 'same', 'B', 'x');
      await put(b, 'kept', 'B');
      store.namespace = b;
      expect(await store.invalidate('x')).to.equal(1);
      expect(await read(b, 'same')).to.equal(undefined);
      expect(await read(a, 'same')).to.equal('A');
      store.namespace = a;
      await store.clear();
      expect(await read(a, 'same')).to.equal(undefined);
      expect(await read(b, 'kept')).to.equal('B');
      await store.clear();
      store.namespace = keyv.namespace;
    });

    it('keys and tags with unicode, separators, braces, spaces and great length', async () => {
      // (Keyv 6 ignores an empty key: it never reaches the store)
      const odd = ['ключ 🔑', 'a:b:c', '{x}', '}{', 'with space', '%7D', 'i:u:t', 'v:x', 'x'.repeat(10_000), ...(KEYV_MAJOR === 5 ? [''] : []), 'a|b=c&d'];
      for (const [i, key] of odd.entries()) await keyv.set(key, i, { dependsOn: [odd[(i + 1) % odd.length] || 'empty-key-tag', `tag-${key}`] });
      for (const [i, key] of odd.entries()) expect(await keyv.get(key), `key ${JSON.stringify(key.slice(0, 20))}`).to.equal(i);
      expect(await store.invalidate('{x}')).to.equal(1); // only the entry tagged '{x}' (key 'a:b:c')
      expect(await keyv.get('a:b:c')).to.equal(undefined);
      expect(await keyv.get('{x}')).to.equal(2);
      expect(await store.invalidate(`tag-${'x'.repeat(10_000)}`)).to.equal(1);
      expect(await keyv.get('x'.repeat(10_000))).to.equal(undefined);
      expect(await store.invalidate('tag-ключ 🔑', 'tag-a|b=c&d')).to.equal(2);
      expect(await keyv.get('i:u:t')).to.equal(6);
      const seen: string[] = [];
      for await (const [key] of keyv.iterator!(undefined)) seen.push(key as string);
      expect(seen.sort()).to.deep.equal(odd.filter((k) => !['a:b:c', 'x'.repeat(10_000), 'ключ 🔑', 'a|b=c&d'].includes(k)).sort());
    });

    it('matching() conjunctions: a row change invalidates the conjunctions of its old and new values', async () => {
      await keyv.set('author7', 1, { dependsOn: [matching('posts', { authorId: 7 })] });
      await keyv.set('author8', 2, { dependsOn: [matching('posts', { authorId: 8 })] });
      await keyv.set('author9', 3, { dependsOn: [matching('posts', { authorId: 9 })] });
      await keyv.set('published7', 4, { dependsOn: [matching('posts', { authorId: 7, status: 'published' })] });
      await keyv.set('all-posts', 5, { dependsOn: [matching('posts')] });
      await keyv.set('comments7', 6, { dependsOn: [matching('comments', { authorId: 7 })] });
      // A draft of author 7 moves to author 8.
      const removed = await internalsOf(store)!.invalidateRequest({
        tags: [],
        rows: [
          { table: 'posts', values: { authorId: 'n7', status: 'sdraft' } },
          { table: 'posts', values: { authorId: 'n8', status: 'sdraft' } },
        ],
      });
      expect(removed).to.equal(3);
      expect(await present('author7', 'author8', 'author9', 'published7', 'all-posts', 'comments7')).to.deep.equal({
        author7: false, author8: false, author9: true, published7: true, 'all-posts': false, comments7: true,
      });
    });

    it('a row image missing a field falls back to every entry of the schemes that need it, and only those', async () => {
      await keyv.set('by-status', 1, { dependsOn: [matching('posts', { status: 'x' })] });
      await keyv.set('by-author', 2, { dependsOn: [matching('posts', { authorId: 1 })] });
      await keyv.set('users', 3, { dependsOn: [matching('users', { id: 1 })] });
      expect(await internalsOf(store)!.invalidateRequest({ tags: [], rows: [{ table: 'posts', values: { authorId: 'n2' } }] })).to.equal(1);
      expect(await present('by-status', 'by-author', 'users')).to.deep.equal({ 'by-status': false, 'by-author': true, users: true });
    });

    it('invalidating a whole table removes everything on it; a conjunction removes its entries and whole-table ones', async () => {
      await keyv.set('a7', 1, { dependsOn: [matching('posts', { authorId: 7 })] });
      await keyv.set('a8', 2, { dependsOn: [matching('posts', { authorId: 8 })] });
      await keyv.set('table', 3, { dependsOn: [matching('posts', {})] });
      await keyv.set('users', 4, { dependsOn: [matching('users', {})] });
      expect(await store.invalidate(matching('posts', { authorId: 7 }))).to.equal(2);
      expect(await present('a7', 'a8', 'table', 'users')).to.deep.equal({ a7: false, a8: true, table: false, users: true });
      expect(await store.invalidate(matching('posts'))).to.equal(1);
      expect(await present('a8', 'users')).to.deep.equal({ a8: false, users: true });
    });

    it('conjunction values are type-stable: 1 and "1" differ, 1 and 1n are the same integer', async () => {
      await keyv.set('num', 1, { dependsOn: [matching('t', { id: 1 })] });
      await keyv.set('str', 2, { dependsOn: [matching('t', { id: '1' })] });
      await keyv.set('null', 3, { dependsOn: [matching('t', { id: null })] });
      await keyv.set('date', 4, { dependsOn: [matching('t', { at: new Date(5) })] });
      expect(await store.invalidate(matching('t', { id: 1n }))).to.equal(1);
      expect(await present('num', 'str', 'null', 'date')).to.deep.equal({ num: false, str: true, null: true, date: true });
      expect(await store.invalidate(matching('t', { at: new Date(5) }))).to.equal(1);
      expect(await store.invalidate(matching('t', { id: null }))).to.equal(1);
      expect(await keyv.get('str')).to.equal(2);
    });

    it('setMany takes { ttl, dependsOn } in each entry\'s ttl field', async () => {
      const results = await keyv.setMany([
        { key: 'm1', value: 1, ttl: { dependsOn: ['m'] } },
        { key: 'm2', value: 2, ttl: { ttl: 500, dependsOn: ['n'] } },
        { key: 'm3', value: 3, ttl: 60_000 },
      ]);
      expect(results).to.deep.equal([true, true, true]);
      expect(await keyv.getMany(['m1', 'm2', 'm3'])).to.deep.equal([1, 2, 3]);
      expect(await store.invalidate('m')).to.equal(1);
      await eventually(async () => (await keyv.get('m2')) === undefined, { what: 'the 500 ms entry expiring' });
      expect(await keyv.getMany(['m1', 'm2', 'm3'])).to.deep.equal([undefined, undefined, 3]);
    });

    it('withDependencies attaches dependencies to every write inside it, nested scopes adding up', async () => {
      await withDependencies(['outer'], async () => {
        await keyv.set('o', 1);
        await withDependencies(['inner'], () => keyv.set('i', 2, { dependsOn: ['explicit'] }));
      });
      await keyv.set('outside', 3);
      expect(await store.entriesFor('outer')).to.have.members(['o', 'i']);
      expect(await store.invalidate('explicit')).to.equal(1);
      expect(await store.invalidate('outer')).to.equal(1);
      expect(await present('o', 'i', 'outside')).to.deep.equal({ o: false, i: false, outside: true });
    });

    it('defaultTtl applies when a write gives none', async () => {
      const short = backend.store({ defaultTtl: 40 });
      const k = keyvFor(short);
      try {
        await k.set('d', 1, { dependsOn: ['x'] });
        await k.set('keep', 2, { ttl: 60_000 });
        await eventually(async () => (await k.get('d')) === undefined, { what: 'defaultTtl expiring the entry' });
        expect(await k.get('keep')).to.equal(2);
      } finally {
        await k.clear();
        await short.disconnect();
      }
    });

    // (Keyv 6 has no useKeyPrefix: it never prefixes keys for a store that keeps its namespace)
    if (KEYV_MAJOR === 5) it('Keyv with useKeyPrefix: false sees the same entries', async () => {
      const ns = keyv.namespace!;
      const bare = new Keyv({ store, namespace: ns, useKeyPrefix: false });
      await keyv.set('shared', 1, { dependsOn: ['t'] });
      expect(await bare.get('shared')).to.equal(1);
      await bare.set('bare', 2, { dependsOn: ['t'] });
      store.namespace = ns;
      expect(await keyv.get('bare')).to.equal(2);
      expect(await store.invalidate('t')).to.equal(2);
    });

    it('getMany, hasMany, deleteMany and iterator', async () => {
      await keyv.set('x1', 1, { dependsOn: ['g'] });
      await keyv.set('x2', 2);
      expect(await keyv.getMany(['x1', 'nope', 'x2'])).to.deep.equal([1, undefined, 2]);
      expect(await keyv.hasMany(['x1', 'nope', 'x2'])).to.deep.equal([true, false, true]);
      const all: Array<[string, unknown]> = [];
      for await (const entry of keyv.iterator!(undefined)) all.push(entry as [string, unknown]);
      expect(all.sort()).to.deep.equal([['x1', 1], ['x2', 2]]);
      // Keyv 5 tells whether any key existed, Keyv 6 answers per key.
      expect(await keyv.deleteMany(['x1', 'nope'])).to.deep.equal(KEYV_MAJOR === 5 ? true : [true, false]);
      expect(await keyv.deleteMany(['nope'])).to.deep.equal(KEYV_MAJOR === 5 ? false : [false]);
      expect(await store.invalidate('g')).to.equal(0);
      expect(await keyv.get('x2')).to.equal(2);
    });

    it("emits 'invalidate' with the dependencies as given and the number removed, alike on every backend", async () => {
      const events: InvalidateEvent[] = [];
      store.on('invalidate', (e) => events.push(e));
      await keyv.set('e', 1, { dependsOn: ['ev'] });
      await keyv.set('r', 1, { dependsOn: [matching('posts', { authorId: 7 })] });
      await keyv.set('t', 1, { dependsOn: [matching('tags', { id: 1 })] });
      await store.invalidate('ev');
      const byAuthor = matching('posts', { authorId: 7 });
      await store.invalidate(byAuthor, 'nothing');
      await store.invalidate(matching('tags'));
      await internalsOf(store)!.invalidateRequest({ tags: [], rows: [{ table: 'posts', values: { id: 'n1' } }, { table: 'posts', values: {} }] });
      expect(events).to.deep.equal([
        { dependencies: ['ev'], tables: [], removed: 1 },
        { dependencies: [byAuthor, 'nothing'], tables: [], removed: 1 },
        { dependencies: [matching('tags')], tables: ['tags'], removed: 1 },
        { dependencies: [], tables: ['posts'], removed: 0 },
      ]);
    });

    it('works without Keyv, in its own namespace', async () => {
      const direct = backend.store({ namespace: uniqueNamespace('direct') });
      try {
        await direct.set('k', '"raw"', { dependsOn: ['d'] });
        expect(await direct.get('k')).to.equal('"raw"');
        expect(await direct.invalidate('d')).to.equal(1);
        expect(await direct.get('k')).to.equal(undefined);
      } finally {
        await direct.clear();
        await direct.disconnect();
      }
    });
  });
}
