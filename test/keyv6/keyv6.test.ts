// What only Keyv 6 does differently, run by the Keyv 6 job (run.sh) on Node 24. Keyv 5 is loaded
// beside it (the npm alias keyv5) for the entries both majors must share.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import Keyv5 from 'keyv5';
import Keyv, { KeyvBridgeAdapter } from 'keyv6';
import { attachKeyv, CleverStore, createKeyv, getOrSet, UnattachedKeyvError, type CleverStoreOptions } from '../../lib/index.js';
import { escapeNamespace } from '../../lib/backends/redis/layout.js';
import { backends, REDIS_URL, uniqueNamespace } from '../support/backends.js';
import { eventually } from '../support/eventually.js';

const SERVER_BACKENDS = backends.filter((b) => b.name === 'redis' || b.name === 'cluster');

for (const backend of backends) {
  describe(`Keyv 6 on CleverStore (${backend.name})`, () => {
    let store: CleverStore;
    beforeEach(() => {
      store = backend.store();
    });
    afterEach(async () => {
      await store.disconnect();
    });

    it('is used natively: Keyv 6 declares no bridge and hands absolute expiries', async () => {
      const keyv = new Keyv({ store, namespace: uniqueNamespace('native') });
      expect(keyv.store).to.equal(store);
      expect(store.capabilities.expires).to.equal(true);
      expect(store.capabilities.methods.setMany).to.deep.equal({ exists: true, methodType: 'async' });
      attachKeyv(keyv);
      await keyv.set('soon', 1, 200);
      await eventually(async () => (await store.get('soon')) === undefined, { what: 'the 200 ms entry expiring in the store' });
      await keyv.clear();
    });

    it('an un-attached Keyv 6 is reported once per store, naming attachKeyv and createKeyv', async () => {
      const keyv = new Keyv({ store, namespace: uniqueNamespace('unattached') });
      const errors: Error[] = [];
      keyv.on('error', (e: Error) => errors.push(e));
      await keyv.set('a', 1, { dependsOn: ['x'] } as never);
      await keyv.set('b', 2, 60_000);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.be.instanceOf(UnattachedKeyvError);
      expect(errors[0]!.message).to.match(/attachKeyv\(keyv\)/).and.to.match(/createKeyv/);
      // Once attached, set options reach the store.
      attachKeyv(keyv);
      await keyv.set('c', 3, { dependsOn: ['x'] });
      expect(await store.invalidate('x')).to.equal(1);
      expect(errors).to.have.length(1);
      await keyv.clear();
    });

    it('an un-attached Keyv 6 with no error listener rejects the first write instead of dropping its options', async () => {
      const keyv = new Keyv({ store, namespace: uniqueNamespace('unattached-loud') });
      let rejected: unknown;
      await keyv.set('a', 1, { dependsOn: ['x'] } as never).catch((e: unknown) => { rejected = e; });
      expect(rejected).to.be.instanceOf(UnattachedKeyvError);
      await keyv.clear();
    });

    it('an unknown set option on an attached Keyv 6 with no error listener rejects with the TypeError', async () => {
      const keyv = attachKeyv(new Keyv({ store, namespace: uniqueNamespace('typo') }));
      let rejected: unknown;
      await keyv.set('typo', 1, { dependOn: ['t'] } as never).catch((e: unknown) => { rejected = e; });
      expect(rejected).to.be.instanceOf(TypeError);
      expect((rejected as Error).message).to.match(/unknown set option 'dependOn'/);
      expect(await keyv.has('typo')).to.equal(false);
    });

    it('the iterator yields a key that starts with the namespace as it was set', async () => {
      const keyv = attachKeyv(new Keyv({ store, namespace: uniqueNamespace('iter') }));
      const ns = keyv.namespace!;
      await keyv.set(`${ns}:k`, 1);
      await keyv.set('k', 2);
      const seen: Record<string, unknown> = {};
      for await (const [key, value] of keyv.iterator()) seen[key as string] = value;
      expect(seen).to.deep.equal({ [`${ns}:k`]: 1, k: 2 });
      await keyv.clear();
    });

    it('deleteMany answers per key, as Keyv 6 expects', async () => {
      const keyv = attachKeyv(new Keyv({ store, namespace: uniqueNamespace('del') }));
      await keyv.set('a', 1, { dependsOn: ['d'] });
      expect(await keyv.delete(['a', 'missing'])).to.deep.equal([true, false]);
      expect(await store.entriesFor('d')).to.deep.equal([]);
    });

    it('getOrSet attaches the Keyv it is given: its dependencies reach the store', async () => {
      const keyv = new Keyv({ store, namespace: uniqueNamespace('read-through') });
      expect(await getOrSet(keyv, 'k', () => 'loaded', { dependsOn: ['r'], ttl: 60_000 })).to.equal('loaded');
      expect(await store.entriesFor('r')).to.deep.equal(['k']);
      expect(await store.invalidate('r')).to.equal(1);
      await keyv.clear();
    });

    it("through Keyv 6's bridge: relative ttls, keys as set, set options once attached", async () => {
      const keyv = attachKeyv(new Keyv({ store: new KeyvBridgeAdapter(store), namespace: uniqueNamespace('bridge') }));
      expect(keyv.store).to.be.instanceOf(KeyvBridgeAdapter);
      await keyv.set('dep', 1, { dependsOn: ['b'] });
      await keyv.set('short', 2, { ttl: 200 });
      await keyv.set('long', 3, 60_000);
      expect(await store.entriesFor('b')).to.deep.equal(['dep']);
      await eventually(async () => (await keyv.get('short')) === undefined, { what: 'the bridged 200 ms entry expiring' });
      expect(await keyv.get('long')).to.equal(3);
      expect(await store.invalidate('b')).to.equal(1);
      const seen: string[] = [];
      for await (const [key] of keyv.iterator()) seen.push(key as string);
      expect(seen).to.deep.equal(['long']);
      await keyv.clear();
    });
  });
}

const storeArgs: Record<string, () => CleverStoreOptions> = {
  redis: () => ({ url: REDIS_URL }),
  cluster: () => ({ cluster: (process.env.CLUSTER_NODES ?? '').split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })) }),
};

for (const { name } of SERVER_BACKENDS) {
  describe(`Keyv 5 and Keyv 6 sharing a namespace (${name})`, () => {
    it('see the same entries: the same keys in Redis, invalidated from either side', async () => {
      const ns = uniqueNamespace('shared');
      const store5 = new CleverStore({ ...storeArgs[name]!(), sweepInterval: 0 });
      const store6 = new CleverStore({ ...storeArgs[name]!(), sweepInterval: 0 });
      const keyv5 = new Keyv5({ store: store5, namespace: ns });
      const keyv6 = attachKeyv(new Keyv({ store: store6, namespace: ns }));
      try {
        await keyv6.set('from6', { by: 6 }, { ttl: 60_000, dependsOn: ['six'] });
        await keyv5.set('from5', { by: 5 }, { ttl: 60_000, dependsOn: ['five'] } as never); // (the augmentation is of module 'keyv')
        expect(await keyv5.get('from6')).to.deep.equal({ by: 6 });
        expect(await keyv6.get('from5')).to.deep.equal({ by: 5 });
        expect((await store5.entriesFor('six')).concat(await store6.entriesFor('five'))).to.deep.equal(['from6', 'from5']);
        if (name === 'redis') {
          const raw = new Redis(REDIS_URL);
          const keys = await raw.keys(`{${escapeNamespace(ns)}:*}v:*`); // (a test may look with KEYS)
          await raw.quit();
          expect(keys.sort()).to.deep.equal([`{${escapeNamespace(ns)}:0}v:from5`, `{${escapeNamespace(ns)}:0}v:from6`]);
        }
        const keys5: string[] = [];
        for await (const [key] of keyv5.iterator!(undefined as never)) keys5.push(key as string);
        const keys6: string[] = [];
        for await (const [key] of keyv6.iterator()) keys6.push(key as string);
        expect(keys5.sort()).to.deep.equal(keys6.sort()).and.to.deep.equal(['from5', 'from6']);
        expect(await store5.invalidate('six')).to.equal(1);
        expect(await store6.invalidate('five')).to.equal(1);
        expect(await keyv6.get('from6')).to.equal(undefined);
        expect(await keyv5.get('from5')).to.equal(undefined);
      } finally {
        await keyv6.clear();
        await store5.disconnect();
        await store6.disconnect();
      }
    });

    it("createKeyv's default namespace sees what a default Keyv 5 wrote", async () => {
      const store5 = new CleverStore({ ...storeArgs[name]!(), sweepInterval: 0 });
      const keyv5 = new Keyv5({ store: store5 });
      const keyv6 = createKeyv({ ...storeArgs[name]!(), sweepInterval: 0 });
      const key = uniqueNamespace('default-ns');
      try {
        expect(keyv5.namespace).to.equal('keyv');
        await keyv5.set(key, 'written by Keyv 5', { dependsOn: [key] } as never);
        expect(await keyv6.get(key)).to.equal('written by Keyv 5');
        expect(await (keyv6.store as unknown as CleverStore).invalidate(key)).to.equal(1);
        // A Keyv 6 given no namespace has none: another namespace than Keyv 5's default.
        const bare = attachKeyv(new Keyv({ store: new CleverStore({ ...storeArgs[name]!(), sweepInterval: 0 }) }));
        await keyv5.set(key, 'again');
        expect(bare.namespace).to.equal(undefined);
        expect(await bare.get(key)).to.equal(undefined);
        await bare.disconnect();
      } finally {
        await keyv5.delete(key);
        await store5.disconnect();
        await keyv6.disconnect();
      }
    });
  });
}
