import { expect } from 'chai';
import { CleverStore, getOrSet, InvalidOptionError, type GraceEvent } from '../../lib/index.js';
import { backends, keyvFor, REDIS_URL, uniqueNamespace } from '../support/backends.js';
import { eventually } from '../support/eventually.js';

const failing = () => { throw new Error('source down'); };

const withL1 = { name: 'redis with l1', store: (o = {}) => new CleverStore(REDIS_URL, { sweepInterval: 0, l1: {}, ...o }) };

for (const backend of [...backends, withL1]) {
  describe(`getOrSet grace (${backend.name})`, () => {
    let store: CleverStore;
    let events: GraceEvent[];
    beforeEach(() => {
      store = backend.store();
      events = [];
      store.on('grace', (e) => events.push(e));
    });
    afterEach(async () => {
      await store.clear();
      await store.disconnect();
    });

    /** Stores a value with a short ttl and waits until it is past it. */
    async function expired(keyv: ReturnType<typeof keyvFor>, key: string, value: string, dependsOn: string[] = []): Promise<void> {
      expect(await getOrSet(keyv, key, () => value, { ttl: 100, grace: 60_000, dependsOn })).to.equal(value);
      const stored = Date.now();
      await eventually(() => Date.now() > stored + 100, { what: 'the ttl passing' });
    }

    it('serves the expired value when the loader throws, and only to getOrSet with grace', async () => {
      const keyv = keyvFor(store);
      await expired(keyv, 'k', 'old');
      expect(await keyv.get('k'), 'a plain read: expired').to.equal(undefined);
      expect(await getOrSet(keyv, 'k', failing, { ttl: 100, grace: 60_000 })).to.equal('old');
      expect(store.stats.graceServed).to.equal(1);
      expect(events.map((e) => [e.key, e.reason, e.error?.message])).to.deep.equal([['k', 'loader-error', 'source down']]);
      // Without grace, the loader's error reaches the caller.
      let thrown: unknown;
      await getOrSet(keyv, 'k', failing, { ttl: 100 }).catch((e: unknown) => { thrown = e; });
      expect((thrown as Error).message).to.equal('source down');
      // A working loader refreshes it.
      expect(await getOrSet(keyv, 'k', () => 'new', { ttl: 60_000, grace: 60_000 })).to.equal('new');
      expect(await keyv.get('k')).to.equal('new');
    });

    it('never serves an invalidated value, expired or not', async () => {
      const keyv = keyvFor(store);
      await expired(keyv, 'k', 'old', ['t']);
      expect(await store.invalidate('t')).to.equal(1);
      let thrown: unknown;
      await getOrSet(keyv, 'k', failing, { ttl: 100, grace: 60_000, dependsOn: ['t'] }).catch((e: unknown) => { thrown = e; });
      expect((thrown as Error).message).to.equal('source down');
      expect(store.stats.graceServed).to.equal(0);
    });

    it('with staleWhileRevalidate returns the expired value at once and refreshes it once in the background', async () => {
      const keyv = keyvFor(store);
      await expired(keyv, 'k', 'old');
      let loads = 0;
      const loader = async () => { loads++; return 'fresh'; };
      const options = { ttl: 60_000, grace: 60_000, staleWhileRevalidate: true };
      expect(await Promise.all([getOrSet(keyv, 'k', loader, options), getOrSet(keyv, 'k', loader, options)])).to.deep.equal(['old', 'old']);
      await eventually(async () => (await keyv.get('k')) === 'fresh', { what: 'the background refresh' });
      expect(loads).to.equal(1);
      expect(events.map((e) => e.reason)).to.deep.equal(['revalidating', 'revalidating']);
      expect(await getOrSet(keyv, 'k', loader, options)).to.equal('fresh');
    });

    it('rejects grace without a ttl, and staleWhileRevalidate without grace', async () => {
      const keyv = keyvFor(store, { namespace: uniqueNamespace('grace') });
      await getOrSet(keyv, 'k', () => 1, { grace: 1000 }).then(() => expect.fail('resolved'), (e: unknown) => {
        expect(e).to.be.instanceOf(InvalidOptionError).with.property('message').that.matches(/grace \(1000 ms\) .* needs a ttl/);
      });
      await getOrSet(keyv, 'k', () => 1, { ttl: 10, grace: -5 }).then(() => expect.fail('resolved'), (e: unknown) => expect(e).to.be.instanceOf(InvalidOptionError));
      await getOrSet(keyv, 'k', () => 1, { ttl: 10, staleWhileRevalidate: true }).then(() => expect.fail('resolved'), (e: unknown) => {
        expect((e as Error).message).to.match(/staleWhileRevalidate needs a grace period/);
      });
    });

    it('keeps a value that merely starts like a grace marker as it is', async () => {
      const keyv = keyvFor(store);
      await keyv.set('m', '\x031\x03x');
      expect(await keyv.get('m')).to.equal('\x031\x03x');
      expect(await store.get(`${keyv.namespace}:m`)).to.be.a('string');
    });
  });
}
