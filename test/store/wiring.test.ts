// createKeyv and attachKeyv, on whichever Keyv major is installed: the main job runs this file with
// Keyv 5, the Keyv 6 job (test/keyv6/run.sh) with Keyv 6. Everything here behaves the same on both.
import { expect } from 'chai';
import Keyv from 'keyv';
import { attachKeyv, CleverStore, createKeyv, DEFAULT_NAMESPACE, InvalidOptionError, type CleverStoreOptions } from '../../lib/index.js';
import { clusterNodes, REDIS_URL, uniqueNamespace } from '../support/backends.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/redis-server.js';

const major = typeof (Keyv.prototype as { onHook?: unknown }).onHook === 'function' ? 6 : 5;

const places: Array<[string, () => string | CleverStoreOptions | undefined]> = [
  ['memory', () => undefined],
  ['redis', () => REDIS_URL],
  ['cluster', () => ({ cluster: clusterNodes(), replicaTimeout: 2000 })],
];

for (const [name, storeArg] of places) {
  describe(`createKeyv and attachKeyv on Keyv ${major} (${name})`, () => {
    let keyv: Keyv;
    let store: CleverStore;
    beforeEach(() => {
      keyv = createKeyv(storeArg(), { namespace: uniqueNamespace('wiring') }) as unknown as Keyv;
      store = keyv.store as CleverStore;
    });
    afterEach(async () => {
      await keyv.clear();
      await store.disconnect();
    });

    it('set with { ttl, dependsOn }: the entry is invalidated through its dependency', async () => {
      expect(await keyv.set('a', { n: 1 }, { ttl: 60_000, dependsOn: ['x'] })).to.equal(true);
      expect(await keyv.set('b', 2, { dependsOn: ['y'] })).to.equal(true);
      expect(await keyv.get('a')).to.deep.equal({ n: 1 });
      expect(await store.invalidate('x')).to.equal(1);
      expect(await keyv.get('a')).to.equal(undefined);
      expect(await keyv.get('b')).to.equal(2);
    });

    it('a ttl given in the options object is honoured', async () => {
      await keyv.set('short', 's', { ttl: 500, dependsOn: ['t'] });
      await keyv.set('long', 'l', { ttl: 60_000 });
      expect(await keyv.get('short')).to.equal('s');
      await eventually(async () => (await keyv.get('short')) === undefined, { what: 'the 500 ms entry expiring' });
      expect(await keyv.get('long')).to.equal('l');
      expect(await store.entriesFor('t')).to.deep.equal([]);
    });

    it('setMany entries take { ttl, dependsOn } in their ttl field', async () => {
      expect(await keyv.setMany([
        { key: 'm1', value: 1, ttl: { ttl: 60_000, dependsOn: ['g'] } },
        { key: 'm2', value: 2, ttl: { ttl: 200 } },
        { key: 'm3', value: 3, ttl: 60_000 },
        { key: 'm4', value: 4 },
      ])).to.deep.equal([true, true, true, true]);
      expect(await store.entriesFor('g')).to.deep.equal(['m1']);
      expect(await store.invalidate('g')).to.equal(1);
      await eventually(async () => (await keyv.get('m2')) === undefined, { what: 'm2 expiring' });
      expect(await keyv.getMany(['m1', 'm2', 'm3', 'm4'])).to.deep.equal([undefined, undefined, 3, 4]);
    });

    it('a numeric ttl and Keyv\'s own default ttl apply', async () => {
      const withDefault = createKeyv(storeArg(), { namespace: uniqueNamespace('wiring-ttl'), ttl: 200 }) as unknown as Keyv;
      try {
        await withDefault.set('d', 'default ttl');
        await withDefault.set('n', 'numeric', 60_000);
        await eventually(async () => (await withDefault.get('d')) === undefined, { what: 'the default ttl expiring' });
        expect(await withDefault.get('n')).to.equal('numeric');
      } finally {
        await withDefault.clear();
        await withDefault.disconnect();
      }
    });

    it('an unknown set option is refused: set resolves false, the TypeError is emitted, nothing is written', async () => {
      const errors: Error[] = [];
      keyv.on('error', (e: Error) => errors.push(e));
      expect(await keyv.set('typo', 'v', { dependOn: ['t'] } as never)).to.equal(false);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.be.instanceOf(InvalidOptionError);
      expect(errors[0]!.message).to.match(/unknown set option 'dependOn'/);
      expect(await keyv.has('typo')).to.equal(false);
      expect(await keyv.setMany([{ key: 'typo2', value: 1, ttl: { dependOn: ['t'] } as never }])).to.deep.equal([false]);
      expect(await keyv.has('typo2')).to.equal(false);
    });

    it('the iterator yields the keys as they were set', async () => {
      await keyv.set('plain', 1);
      await keyv.set('with:colon', 2, { dependsOn: ['i'] });
      const seen: Record<string, unknown> = {};
      for await (const [key, value] of (keyv.iterator as () => AsyncGenerator<[string, unknown]>)()) seen[key] = value;
      expect(seen).to.deep.equal({ plain: 1, 'with:colon': 2 });
    });

    it('keys live under the namespace once, whatever the major', async () => {
      await keyv.set('k', 'v', { dependsOn: ['n'] });
      const other = new CleverStore(storeArg() ?? {}, { namespace: keyv.namespace, sweepInterval: 0 });
      try {
        if (name === 'memory') return; // one process's memory: nothing shared to look at
        expect(await other.get('k')).to.equal(await store.get(major === 5 ? `${keyv.namespace}:k` : 'k'));
        expect(await other.entriesFor('n')).to.deep.equal(['k']);
      } finally {
        await other.disconnect();
      }
    });

    it('attachKeyv is harmless twice, and refuses a Keyv without a CleverStore', () => {
      expect(attachKeyv(attachKeyv(keyv))).to.equal(keyv);
      expect(() => attachKeyv(new Keyv())).to.throw(InvalidOptionError, /attachKeyv\(\): expected a Keyv whose store is a CleverStore/);
    });
  });
}

describe(`createKeyv's namespace on Keyv ${major}`, () => {
  it("defaults to Keyv 5's 'keyv', or to the store's namespace option, or takes Keyv's", async () => {
    const made = [createKeyv(), createKeyv({ namespace: 'from-store' }), createKeyv(undefined, { namespace: 'from-keyv' })];
    expect(made.map((k) => k.namespace)).to.deep.equal([DEFAULT_NAMESPACE, 'from-store', 'from-keyv']);
    expect(DEFAULT_NAMESPACE).to.equal('keyv');
    for (const k of made) await k.disconnect();
  });
});

describe(`a cache error with no listener on Keyv ${major}`, () => {
  it('neither throws at wiring time nor out of the Redis client, and reads are misses', async () => {
    const port = await freePort(); // nothing listens there
    const store = new CleverStore(`redis://127.0.0.1:${port}`, { sweepInterval: 0, retryStrategy: () => 50 });
    const keyv = attachKeyv(new Keyv({ store, namespace: uniqueNamespace('down') }));
    let clientErrors = 0;
    store.client!.on('error', () => { clientErrors++; });
    try {
      await eventually(() => clientErrors >= 2, { what: 'the client reporting its failed connections' });
      expect(await keyv.get('k')).to.equal(undefined);
      expect(await store.invalidate('t').catch((e: Error) => e)).to.be.instanceOf(Error);
    } finally {
      await store.disconnect();
    }
  });
});
