import { expect } from 'chai';
import Keyv from 'keyv';
import { type CleverStore, matching, withDependencies } from '../../lib/index.js';
import { backends, keyvFor } from '../support/backends.js';

/** Asserts fn rejects with a TypeError whose message matches. */
async function rejectsType(fn: () => Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await fn();
  } catch (error) {
    expect(error).to.be.instanceOf(TypeError);
    expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a TypeError matching ${message}`);
}

for (const backend of backends) {
  describe(`bad input is refused before anything is written (${backend.name})`, () => {
    let store: CleverStore;
    let keyv: Keyv;
    beforeEach(async () => {
      store = backend.store();
      keyv = keyvFor(store);
      await keyv.set('existing', 'kept', { dependsOn: ['t'] });
    });
    afterEach(async () => {
      // Nothing already stored is lost, and nothing new appeared.
      expect(await keyv.get('existing')).to.equal('kept');
      expect(await keyv.has('k')).to.equal(false);
      await keyv.clear();
      await store.disconnect();
    });

    const badDependencies: Array<[string, unknown, RegExp]> = [
      ['a non-array dependsOn', 'posts', /dependsOn .*must be an array.*"posts"/],
      ['null in dependsOn', [null], /dependsOn\[0\] is null/],
      ['undefined in dependsOn', ['ok', undefined], /dependsOn\[1\] is undefined/],
      ['an empty tag', [''], /dependsOn\[0\] is an empty string/],
      ['a number', [42], /dependsOn\[0\] is 42/],
      ['a plain object of no known kind', [{ table: 'posts' }], /dependsOn\[0\] is \{ table: 'posts' \}.*not a dependency/],
      ['a function of no known kind', [() => 1], /dependsOn\[0\] is .*Function.*not a dependency/],
    ];
    for (const [what, dependsOn, message] of badDependencies) {
      it(`rejects ${what} with a TypeError naming it`, async () => {
        await rejectsType(() => store.set(`${keyv.namespace}:k`, '"v"', { dependsOn } as never), message);
        await rejectsType(() => store.set(`${keyv.namespace}:existing`, '"overwritten"', { dependsOn } as never), message);
      });
    }

    const badTtls: Array<[string, unknown, RegExp]> = [
      ['negative', -1, /ttl for key .* non-negative .* got -1/],
      ['NaN', NaN, /got NaN/],
      ['a string', '100', /got "100"/],
      ['a string in options', { ttl: '100' }, /got "100"/],
    ];
    for (const [what, ttl, message] of badTtls) {
      it(`rejects a ttl that is ${what}`, async () => {
        await rejectsType(() => store.set(`${keyv.namespace}:k`, '"v"', ttl as never), message);
      });
    }

    it('treats ttl 0 and Infinity as no expiry', async () => {
      await store.set(`${keyv.namespace}:zero`, '"z"', 0);
      await store.set(`${keyv.namespace}:inf`, '"i"', { ttl: Infinity, dependsOn: ['x'] });
      expect(await keyv.get('zero')).to.equal(undefined); // not a Keyv envelope: the raw string is no value
      expect(await store.get(`${keyv.namespace}:inf`)).to.equal('"i"');
      await keyv.delete(['zero', 'inf']);
    });

    it('rejects an unknown set option (a typo must not silently drop dependencies)', async () => {
      await rejectsType(() => store.set(`${keyv.namespace}:k`, '"v"', { dependOn: ['t'] } as never), /unknown set option 'dependOn'/);
    });

    it('rejects bad matching() values: NaN, undefined, objects, an empty table', () => {
      expect(() => matching('posts', { id: NaN })).to.throw(TypeError, /matching\('posts'\): field 'id' is NaN/);
      expect(() => matching('posts', { id: undefined })).to.throw(TypeError, /field 'id' is undefined; use null/);
      expect(() => matching('posts', { id: { a: 1 } })).to.throw(TypeError, /field 'id' has a value of unsupported type \(Object\)/);
      expect(() => matching('posts', { at: new Date('nope') })).to.throw(TypeError, /invalid Date/);
      expect(() => matching('', {})).to.throw(TypeError, /empty string/);
      expect(() => matching('posts', 'id=1' as never)).to.throw(TypeError, /object of field: value pairs, got "id=1"/);
      expect(() => matching({} as never, {})).to.throw(TypeError, /neither a table name nor a model/);
    });

    it('setMany with one bad entry writes none of them', async () => {
      await rejectsType(() => store.setMany([
        { key: `${keyv.namespace}:k`, value: '"v"', ttl: { dependsOn: ['fine'] } },
        { key: `${keyv.namespace}:k2`, value: '"v"', ttl: { dependsOn: [null] } as never },
      ]), /dependsOn\[0\] is null/);
      expect(await keyv.has('k2')).to.equal(false);
    });

    it('rejects non-string keys and values', async () => {
      await rejectsType(() => store.set(42 as never, '"v"'), /key must be a string, got 42/);
      await rejectsType(() => store.set(`${keyv.namespace}:k`, { v: 1 } as never), /must be a string .*got \{ v: 1 \}/);
    });

    it('rejects bad invalidate() arguments', async () => {
      await rejectsType(() => store.invalidate(''), /invalidate\(\) argument 0 is an empty string/);
      await rejectsType(() => store.invalidate('ok', null as never), /invalidate\(\) argument 1 is null/);
      await rejectsType(() => store.invalidate({ tag: 't' } as never), /not a dependency/);
      expect(await keyv.get('existing')).to.equal('kept');
    });

    it('withDependencies checks its dependencies when called', () => {
      expect(() => withDependencies('t' as never, () => 1)).to.throw(TypeError, /must be an array.*"t"/);
      expect(() => withDependencies([null as never], () => 1)).to.throw(TypeError, /withDependencies\(\) dependsOn\[0\] is null/);
    });

    it('through Keyv: set resolves false and emits the TypeError; throwOnErrors makes it reject', async () => {
      const errors: unknown[] = [];
      keyv.on('error', (e: unknown) => errors.push(e));
      expect(await keyv.set('k', 'v', { dependsOn: [null as never] })).to.equal(false);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.be.instanceOf(TypeError);
      const strict = new Keyv({ store, namespace: keyv.namespace, throwOnErrors: true });
      await rejectsType(() => strict.set('k', 'v', { ttl: -1 }), /got -1/);
      store.namespace = keyv.namespace;
    });
  });
}
