import { expect } from 'chai';
import type Keyv from 'keyv';
import { type CleverStore } from '../../lib/index.js';
import { backends, keyvFor } from '../support/backends.js';

// The rest of the bad-input matrix: odd keys, values Keyv cannot serialize, huge dependency
// lists and namespaces full of separators. Each gives a clear error or documented behaviour,
// and nothing already stored is lost.
for (const backend of backends) {
  describe(`keys, values, dependencies and namespaces at the edges (${backend.name})`, function () {
    this.timeout(30_000);
    let store: CleverStore;
    let keyv: Keyv;
    beforeEach(async () => {
      store = backend.store();
      keyv = keyvFor(store);
      await keyv.set('kept', 'safe', { dependsOn: ['t'] });
    });
    afterEach(async () => {
      expect(await keyv.get('kept')).to.equal('safe');
      await keyv.clear();
      await store.disconnect();
    });

    it('keys: empty, 512 KB, unicode, braces and colons all round-trip and invalidate', async () => {
      const keys = ['', 'k'.repeat(512 * 1024), 'ünï©ødé 🗝', '{}', ':', '::a::', '{ns:0}v:x'];
      for (const [i, key] of keys.entries()) await keyv.set(key, i, { dependsOn: ['edge'] });
      for (const [i, key] of keys.entries()) expect(await keyv.get(key)).to.equal(i);
      expect(await store.invalidate('edge')).to.equal(keys.length);
      for (const key of keys) expect(await keyv.get(key)).to.equal(undefined);
    });

    it('raw values shaped like the stored header round-trip on every write path, and only tags invalidate', async () => {
      // The Redis backend keeps an entry's tags in a header before its value (\x01 ... \x02).
      const raw = ['\x01', '\x01\x02', '\x01x\x02y', '\x02', '\x01\ninf\nu:t\x02v', '%0A%02'];
      for (const [i, value] of raw.entries()) {
        expect(await store.set(`lone${i}`, value)).to.equal(true);
        expect(await store.set(`tagged${i}`, value, { dependsOn: ['shape'] })).to.equal(true);
      }
      expect(await store.setMany(raw.map((value, i) => ({ key: `many${i}`, value })))).to.deep.equal(raw.map(() => true));
      const together = await Promise.all(raw.map((value, i) => store.set(`tick${i}`, value, { dependsOn: [`shape${i}`] })));
      expect(together).to.deep.equal(raw.map(() => true));
      for (const prefix of ['lone', 'tagged', 'many', 'tick']) {
        expect(await store.getMany(raw.map((_, i) => `${prefix}${i}`)), prefix).to.deep.equal(raw);
        expect(await Promise.all(raw.map((_, i) => store.get(`${prefix}${i}`))), prefix).to.deep.equal(raw);
      }
      const iterated = new Map<string, unknown>();
      for await (const [key, value] of store.iterator(store.namespace)) iterated.set(String(key).slice(String(key).lastIndexOf(':') + 1), value);
      raw.forEach((value, i) => expect(iterated.get(`lone${i}`)).to.equal(value));
      expect(await store.invalidate('shape')).to.equal(raw.length);
      expect(await store.get('lone1')).to.equal('\x01\x02');
      // A tagged value overwritten without tags is no longer reached by the tag.
      await store.set('tick0', 'plain now');
      expect(await store.invalidate('shape0')).to.equal(0);
      expect(await store.get('tick0')).to.equal('plain now');
    });

    it('setMany and getMany of 40k keys (10k+ per bucket) over every bucket round-trip in order, repeats included', async () => {
      const keys = Array.from({ length: 40_000 }, (_, i) => `many-${i}`);
      const entries = keys.map((key, i) => ({ key, value: `v${i}`, ttl: i % 2 ? { dependsOn: ['half'] } : undefined }));
      entries.push({ key: 'many-0', value: 'rewritten', ttl: undefined }); // the later write wins
      expect((await store.setMany(entries)).every(Boolean)).to.equal(true);
      const values = await store.getMany([...keys, 'absent', 'many-1']);
      expect(values.slice(1, keys.length)).to.deep.equal(keys.slice(1).map((_, i) => `v${i + 1}`));
      expect([values[0], values[keys.length], values[keys.length + 1]]).to.deep.equal(['rewritten', undefined, 'v1']);
      expect(await store.invalidate('half')).to.equal(keys.length / 2);
    });

    it('values Keyv cannot serialize are refused before the store and leave the old value', async () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const [value, error] of [[circular, RangeError], [10n, TypeError], [Symbol('s'), Error]] as const) {
        let failed: unknown;
        try {
          await keyv.set('kept', value, { dependsOn: ['t'] });
        } catch (e) {
          failed = e;
        }
        expect(failed, String(typeof value)).to.be.instanceOf(error);
      }
    });

    it('undefined is stored as Keyv stores it (read back as a miss); Buffers round-trip', async () => {
      expect(await keyv.set('undef', undefined, { dependsOn: ['v'] })).to.equal(true);
      expect(await keyv.get('undef')).to.equal(undefined);
      await keyv.set('buf', Buffer.from([0, 1, 255]), { dependsOn: ['v'] });
      expect(Buffer.compare(await keyv.get('buf') as Buffer, Buffer.from([0, 1, 255]))).to.equal(0);
      expect(await store.invalidate('v')).to.equal(2);
    });

    it('10k dependencies on one entry (maxDependencies raised): written in one call, removed by any one of them, leaving no index behind', async () => {
      const wide = backend.store({ maxDependencies: 10_000 });
      const wideKeyv = keyvFor(wide);
      try {
        const many = Array.from({ length: 10_000 }, (_, i) => `dep-${i}`);
        expect(await wideKeyv.set('wide', 'v', { dependsOn: many })).to.equal(true);
        expect(await wide.entriesFor('dep-9999')).to.deep.equal(['wide']);
        expect(await wide.invalidate('dep-5000')).to.equal(1);
        expect(await wideKeyv.get('wide')).to.equal(undefined);
        expect(await wide.entriesFor('dep-0')).to.deep.equal([]);
        expect(await wide.invalidate('dep-1', 'dep-9999')).to.equal(0);
      } finally {
        await wideKeyv.clear();
        await wide.disconnect();
      }
    });

    it('headers ending on either side of each read boundary (256 and 1024 bytes), in front of 1 MB values: invalidated, deleted and rewritten exactly', async () => {
      const big = 'v'.repeat(1 << 20);
      // A header is \x01 + '' (no expiry) + '\n' + tag + '\n' + 'shared-n' + \x02: a first tag of
      // end - 12 bytes puts the header's last byte at `end`, around each boundary the scripts read up to.
      const cases = [254, 255, 256, 257, 258, 1023, 1024, 1025, 4096, 4097].map((end, i) => {
        const head = `t${i}-`;
        return { key: `h${i}`, tags: [head + 'x'.repeat(end - 12 - head.length), `shared-${i % 2}`] };
      });
      for (const c of cases) expect(await keyv.set(c.key, big, { dependsOn: c.tags })).to.equal(true);
      for (const c of cases) expect(await store.entriesFor(c.tags[0]!)).to.deep.equal([c.key]);
      // Each by its own long tag, then a rewrite with other tags drops the old ones.
      expect(await store.invalidate(cases[0]!.tags[0]!)).to.equal(1);
      expect(await keyv.get(cases[0]!.key)).to.equal(undefined);
      expect(await keyv.set(cases[1]!.key, 'small', { dependsOn: ['other'] })).to.equal(true);
      expect(await store.entriesFor(cases[1]!.tags[0]!)).to.deep.equal([]);
      expect(await keyv.delete(cases[2]!.key)).to.equal(true);
      expect(await store.entriesFor('shared-0')).to.not.include(cases[2]!.key);
      const rest = cases.slice(3);
      expect(await store.invalidate('shared-0', 'shared-1')).to.equal(rest.length);
      for (const c of rest) expect(await keyv.get(c.key)).to.equal(undefined);
      expect(await keyv.get(cases[1]!.key)).to.equal('small');
    });

    it('namespaces full of separators stay apart from each other', async () => {
      const namespaces = ['a', 'a:b', 'a:b:c', '{a}', 'a}b', 'a*', '%7B', ''];
      const stores = namespaces.map((namespace) => backend.name === 'memory' ? store : backend.store({ namespace }));
      const write = async (i: number) => {
        stores[i]!.namespace = namespaces[i];
        await stores[i]!.set('k', namespaces[i]!, { dependsOn: ['x'] });
      };
      const read = async (i: number) => {
        stores[i]!.namespace = namespaces[i];
        return stores[i]!.get('k');
      };
      try {
        for (let i = 0; i < namespaces.length; i++) await write(i);
        stores[1]!.namespace = 'a:b';
        expect(await stores[1]!.invalidate('x')).to.equal(1);
        stores[3]!.namespace = '{a}';
        await stores[3]!.clear();
        expect(await Promise.all(namespaces.map((_, i) => read(i)))).to.deep.equal(namespaces.map((n, i) => (i === 1 || i === 3 ? undefined : n)));
      } finally {
        for (let i = 0; i < namespaces.length; i++) {
          stores[i]!.namespace = namespaces[i];
          await stores[i]!.clear();
          if (stores[i] !== store) await stores[i]!.disconnect();
        }
        store.namespace = keyv.namespace;
      }
    });
  });
}
