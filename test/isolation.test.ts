import { internalsOf } from '../lib/store/internal.js';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import Keyv from 'keyv';
import { CleverStore, getOrSet, matching } from '../lib/index.js';
import { escapeNamespace } from '../lib/backends/redis/index.js';
import { REDIS_URL, uniqueNamespace } from './support/backends.js';

const hostile = [
  "'); redis.call('FLUSHALL') --",
  ']] redis.call("FLUSHDB") [[',
  '}{other:0}v:k',
  '{victim:0}i:u:t',
  '*',
  '\u0000\n\r',
];

describe('isolation: a Redis ACL user limited to one namespace\'s keys runs the whole workload', function () {
  this.timeout(30_000);
  const user = `kc-acl-${process.pid}`;
  const ns = uniqueNamespace('acl');
  const victimNs = uniqueNamespace('victim');
  let admin: Redis;
  let store: CleverStore;
  let victim: CleverStore;
  const errors: Error[] = [];

  before(async () => {
    admin = new Redis(REDIS_URL);
    // Only keys of this namespace (`{<ns>:<bucket>}…`); no CONFIG (dangerous commands are off).
    await admin.call('ACL', 'SETUSER', user, 'reset', 'on', '>pw', `~{${escapeNamespace(ns)}:*`, '+@all', '-@dangerous', '+scan', '+info');
    const db = new URL(REDIS_URL).pathname.slice(1) || '0';
    store = new CleverStore(`redis://${user}:pw@127.0.0.1:6379/${db}`, { sweepInterval: 0, buckets: 4, onUnsafeEviction: 'ignore' });
    store.on('error', (e) => errors.push(e));
    victim = new CleverStore(REDIS_URL, { sweepInterval: 0, namespace: victimNs, buckets: 4 });
    await victim.set('k', 'untouched', { dependsOn: ['t', ...hostile, matching('posts', { id: 1 })] });
  });
  after(async () => {
    await victim.clear();
    await victim.disconnect();
    await store.disconnect();
    await admin.call('ACL', 'DELUSER', user);
    await admin.quit();
  });

  it('the ACL is real: the restricted user cannot touch another namespace', async () => {
    const raw = new Redis(`redis://${user}:pw@${new URL(REDIS_URL).host}${new URL(REDIS_URL).pathname}`);
    try {
      await raw.get(`{${escapeNamespace(victimNs)}:0}v:k`).then(() => expect.fail('expected NOPERM'), (e: Error) => expect(e.message).to.match(/NOPERM/));
    } finally {
      raw.disconnect();
    }
  });

  it('set, get, getMany, has, delete, invalidate, row changes, getOrSet, iterator, sweep and clear stay inside the namespace', async () => {
    const keyv = new Keyv({ store, namespace: ns });
    for (const [i, tag] of hostile.entries()) await keyv.set(`k${i}${tag}`, i, { dependsOn: [tag, matching('posts', { id: i, title: tag })] });
    await keyv.set('plain', 'p', 60_000);
    expect(await keyv.getMany(['k0' + hostile[0], 'plain'])).to.deep.equal([0, 'p']);
    expect(await keyv.has('plain')).to.equal(true);
    expect(await store.invalidate(hostile[0]!)).to.equal(1);
    expect(await store.invalidate(hostile[2]!, hostile[3]!)).to.equal(2);
    expect(await internalsOf(store)!.invalidateRequest({ tags: [], rows: [{ table: 'posts', values: { id: 'n4', title: `s${hostile[4]}` } }] })).to.equal(1);
    expect(await getOrSet(keyv, 'read-through', () => 'loaded', { dependsOn: hostile })).to.equal('loaded');
    const keys: string[] = [];
    for await (const [key] of keyv.iterator!(undefined)) keys.push(key as string);
    expect(keys).to.include('plain');
    await store.sweep();
    expect(await keyv.delete('plain')).to.equal(true);
    await keyv.clear();
    expect(errors.map((e) => e.message)).to.deep.equal([]);
    // The other namespace, with the same hostile tags, is untouched.
    expect(await victim.get('k')).to.equal('untouched');
    expect(await victim.entriesFor('t')).to.deep.equal(['k']);
  });
});
