import { expect } from 'chai';
import { internalsOf } from '../../lib/store/internal.js';
import { Redis } from 'ioredis';
import Keyv from 'keyv';
import { CleverStore, matching } from '../../lib/index.js';
import { escapeNamespace } from '../../lib/backends/redis/index.js';
import { conjunctionTag, encodeValue } from '../../lib/tags.js';
import { REDIS_URL, uniqueNamespace } from '../support/backends.js';
import { PrivateRedis, commandCalls, replicaSynced, startReplicated } from '../support/redis-server.js';
import { eventually } from '../support/eventually.js';

async function scanAll(client: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

const nsPattern = (ns: string) => `{${escapeNamespace(ns).replace(/[*?[\]\\]/g, '\\$&')}:*`;

describe('Redis backend: layout', () => {
  let admin: Redis;
  before(() => { admin = new Redis(REDIS_URL); });
  after(async () => { await admin.quit(); });

  it('stores each key under the namespace exactly once, with and without Keyv key prefixes', async () => {
    const ns = uniqueNamespace('layout');
    const store = new CleverStore(REDIS_URL, { sweepInterval: 0 });
    const keyv = new Keyv({ store, namespace: ns });
    const bare = new Keyv({ store, namespace: ns, useKeyPrefix: false });
    try {
      await keyv.set('foo', 1, { dependsOn: ['t'] });
      await bare.set('bar', 2);
      const e = escapeNamespace(ns);
      // The value carries its tag list; the small tag lives in one of the bucket's index pages;
      // m: records the namespace's bucket count.
      const keys = await scanAll(admin, nsPattern(ns));
      expect(keys.filter((k) => !/^\{[^}]*\}p:\d+$/.test(k))).to.deep.equal([`{${e}:0}m:`, `{${e}:0}v:bar`, `{${e}:0}v:foo`]);
      expect(await admin.get(`{${e}:0}m:`)).to.equal('1');
      expect(keys.filter((k) => k.startsWith(`{${e}:0}p:`))).to.have.length(1);
      expect(await bare.get('foo')).to.equal(1);
      expect(await keyv.get('bar')).to.equal(2);
    } finally {
      await keyv.clear();
      await store.disconnect();
    }
  });

  it('clear() removes the namespace\'s values and index structures and nothing else', async () => {
    const ns = uniqueNamespace('clear');
    const neighbours = [`${ns}:x`, `${ns}*`, `{${ns}`];
    const store = new CleverStore(REDIS_URL, { sweepInterval: 0, namespace: ns });
    const others = neighbours.map((n) => new CleverStore(REDIS_URL, { sweepInterval: 0, namespace: n }));
    const foreign = [`${ns}:plain`, `{${ns}:0}`, `keyv:${ns}`, `${ns}`];
    try {
      for (const k of foreign) await admin.set(k, 'foreign');
      await store.set('k', 'v', { dependsOn: ['t', matching('posts', { id: 1 })] });
      await store.set('i:u:t', 'shaped like an index key', { dependsOn: ['t'] });
      await store.invalidate(matching('posts', { id: 2 })); // leaves generations behind
      for (const other of others) await other.set('k', 'other', { dependsOn: ['t'] });
      expect((await scanAll(admin, nsPattern(ns))).length).to.be.greaterThan(4);

      await store.clear();
      // Only the foreign key shaped like a bucket prefix is left: the store never wrote it.
      expect(await scanAll(admin, nsPattern(ns))).to.deep.equal([`{${ns}:0}`]);
      for (const k of foreign) expect(await admin.get(k), k).to.equal('foreign');
      for (const other of others) expect(await other.get('k')).to.equal('other');
    } finally {
      await admin.del(...foreign);
      for (const other of others) {
        await other.clear();
        await other.disconnect();
      }
      await store.disconnect();
    }
  });

  it('a user key shaped like an internal key never meets the internal one', async () => {
    const store = new CleverStore(REDIS_URL, { sweepInterval: 0, namespace: uniqueNamespace('shape') });
    try {
      await store.set('u:t', 'value', { dependsOn: ['t'] });
      await store.set('i:u:t', 'value2', { dependsOn: ['u:t'] });
      expect(await store.get('u:t')).to.equal('value');
      expect(await store.invalidate('t')).to.equal(1);
      expect(await store.get('i:u:t')).to.equal('value2');
      expect(await store.invalidate('u:t')).to.equal(1);
    } finally {
      await store.clear();
      await store.disconnect();
    }
  });

  it('accepts a URL with user, password and database', async () => {
    const user = `kc-url-${process.pid}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>s3cret', '~*', '&*', '+@all');
    const url = new URL(REDIS_URL); // its database: the one the tests were given
    url.username = user;
    url.password = 's3cret';
    const store = new CleverStore(url.toString(), { sweepInterval: 0, namespace: uniqueNamespace('url') });
    const inDb = new Redis(REDIS_URL);
    try {
      await store.set('k', 'v', { dependsOn: ['t'] });
      expect(await inDb.exists(`{${escapeNamespace(store.namespace!)}:0}v:k`)).to.equal(1);
      expect(await store.invalidate('t')).to.equal(1);
    } finally {
      await store.clear();
      await store.disconnect();
      await inDb.quit();
      await admin.call('ACL', 'DELUSER', user);
    }
  });

  it('uses a given ioredis client without closing it, unless asked', async () => {
    const client = new Redis(REDIS_URL);
    const listeners = client.listenerCount('ready');
    const store = new CleverStore({ redis: client, sweepInterval: 0, namespace: uniqueNamespace('client') });
    await store.set('k', 'v');
    await store.clear();
    await store.disconnect();
    expect(await client.ping()).to.equal('PONG');
    // Many stores on one client (one per namespace): one listener in all, whatever comes and goes.
    const stores = Array.from({ length: 20 }, () => new CleverStore({ redis: client, sweepInterval: 0 }));
    expect(client.listenerCount('ready')).to.equal(listeners + 1);
    for (const s of stores) await s.disconnect();
    expect(client.listenerCount('ready')).to.equal(listeners + 1);
    const closing = new CleverStore({ redis: client, closeClient: true, sweepInterval: 0 });
    const ended = new Promise((resolve) => client.once('end', resolve));
    await closing.disconnect();
    await ended;
    expect(client.status).to.equal('end');
  });

  it('takes ioredis connection options directly', async () => {
    const { hostname, port, pathname } = new URL(REDIS_URL);
    const store = new CleverStore({ host: hostname, port: Number(port || 6379), db: Number(pathname.slice(1) || 0), sweepInterval: 0, namespace: uniqueNamespace('opts') });
    try {
      expect(store.backendKind).to.equal('redis');
      await store.set('k', 'v');
      expect(await store.get('k')).to.equal('v');
    } finally {
      await store.clear();
      await store.disconnect();
    }
  });

  it('rejects bad constructor input with a TypeError naming it', () => {
    expect(() => new CleverStore('http://localhost')).to.throw(TypeError, /redis:\/\/.*"http:\/\/localhost"/);
    expect(() => new CleverStore({ buckets: 0 })).to.throw(TypeError, /buckets.*0/);
    expect(() => new CleverStore({ defaultTtl: -5 })).to.throw(TypeError, /defaultTtl.*-5/);
    expect(() => new CleverStore({ onUnsafeEviction: 'shout' as 'warn' })).to.throw(TypeError, /shout/);
    expect(() => new CleverStore({ redis: 'redis://127.0.0.1:6379' as never })).to.throw(TypeError, /redis must be an ioredis Redis or Cluster client.*"redis:\/\/127\.0\.0\.1:6379"/);
    expect(() => new CleverStore({ redis: {} as never })).to.throw(TypeError, /redis must be an ioredis/);
    expect(() => new CleverStore({ backend: 'sqlite' as 'redis' })).to.throw(TypeError, /backend must be 'redis' or 'memory'.*"sqlite"/);
    expect(() => new CleverStore({ waitForReplicas: 'yes' as never })).to.throw(TypeError, /waitForReplicas must be a boolean.*"yes"/);
    expect(() => new CleverStore({ replicaTimeout: 0 })).to.throw(TypeError, /replicaTimeout must be a positive integer.*0/);
  });
});

describe('Redis backend: changed rows cut down to the fields schemes name', () => {
  it('stays exact when a scheme appears after the schemes were read: the cut rows are refused and go whole', async () => {
    const store = new CleverStore(REDIS_URL, { sweepInterval: 0, namespace: uniqueNamespace('cut') });
    const internals = internalsOf(store)!;
    const row = (id: number, title: string) => ({ table: 'posts', values: { id: encodeValue(id, () => 'id'), title: encodeValue(title, () => 'title') } });
    // The ncut argument of every invalidation call (see lua/invalidate.lua: after the tags).
    const cuts: number[] = [];
    const client = store.client as Redis;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command: { name: string; args: unknown[] }) => {
      if (/^eval/i.test(command.name) && command.args.length > 7) cuts.push(Number(command.args[7 + Number(command.args[6])]));
      return send(command as never);
    }) as typeof client.sendCommand;
    try {
      await store.set('p2', 'v', { dependsOn: [matching('posts', { id: 2 })] });
      // Once the schemes are read (in the background), rows go cut down to `id`.
      await eventually(async () => {
        cuts.length = 0;
        await internals.invalidateRequest({ tags: [], rows: [row(99, 'z')] });
        return cuts.at(-1) === 1;
      }, { what: 'a cut row' });
      await store.set('titleA', 'v', { dependsOn: [matching('posts', { title: 'a' })] });
      await store.set('titleB', 'v', { dependsOn: [matching('posts', { title: 'b' })] });
      cuts.length = 0;
      expect(await internals.invalidateRequest({ tags: [], rows: [row(2, 'a')] })).to.equal(2);
      expect(cuts).to.deep.equal([1, 0]); // refused, then whole
      expect(await store.get('p2')).to.equal(undefined);
      expect(await store.get('titleA')).to.equal(undefined);
      expect(await store.get('titleB')).to.equal('v');
    } finally {
      await store.clear();
      await store.disconnect();
    }
  });
});

describe('Redis backend: scale and bounded indexes (private redis-server)', function () {
  this.timeout(120_000);
  let server: PrivateRedis;
  let admin: Redis;
  before(async () => {
    server = await PrivateRedis.start();
    admin = new Redis(server.url);
  });
  after(async () => {
    await admin.quit();
    await server.stop();
  });

  const evalCalls = () => commandCalls(admin, 'evalsha', 'eval');

  it('invalidates a big tag in chunks of invalidateChunk entries, removing every entry', async () => {
    // A budget far above what 500 entries take: the entry count alone decides the calls.
    const store = new CleverStore(server.url, { sweepInterval: 0, invalidateChunk: 500, invalidateBudget: 60_000, namespace: 'chunks' });
    try {
      const n = 10_000;
      for (let i = 0; i < n; i += 1000) {
        await store.setMany(Array.from({ length: 1000 }, (_, j) => ({
          key: `k${i + j}`, value: 'v', ttl: { dependsOn: ['big', `own${i + j}`] },
        })));
      }
      await store.set('survivor', 'v', { dependsOn: ['small'] });
      const before = await evalCalls();
      expect(await store.invalidate('big')).to.equal(n);
      const calls = (await evalCalls()) - before;
      expect(calls).to.be.at.least(n / 500).and.at.most(n / 500 + 2);
      expect(await store.get('survivor')).to.equal('v');
      // The other index of every removed entry was cleaned as well: only the survivor's is left.
      expect(await store.entriesFor('own0')).to.deep.equal([]);
      expect(await scanAll(admin, '{chunks:0}[vi]:*')).to.deep.equal(['{chunks:0}v:survivor']);
      const pages = await scanAll(admin, '{chunks:0}p:*');
      expect(pages).to.have.length(1);
      expect(await admin.hkeys(pages[0]!)).to.deep.equal(['u:small']);
    } finally {
      await store.clear();
      await store.disconnect();
    }
  });

  it('stops each invalidation call once invalidateBudget ms have passed, and still removes every entry', async () => {
    // 10k entries with two index members each take far longer than 1 ms of Redis time.
    const store = new CleverStore(server.url, { sweepInterval: 0, invalidateChunk: 1_000_000, invalidateBudget: 1, namespace: 'budget' });
    try {
      const n = 10_000;
      for (let i = 0; i < n; i += 1000) {
        await store.setMany(Array.from({ length: 1000 }, (_, j) => ({ key: `k${i + j}`, value: 'v', ttl: { dependsOn: ['big', `own${i + j}`] } })));
      }
      const before = await evalCalls();
      expect(await store.invalidate('big')).to.equal(n);
      expect((await evalCalls()) - before).to.be.at.least(2);
      expect(await scanAll(admin, '{budget:0}[vip]:*')).to.deep.equal([]);
    } finally {
      await store.clear();
      await store.disconnect();
    }
  });

  it('sends each invalidation call a budget of 2 ms by default', async () => {
    const store = new CleverStore(server.url, { sweepInterval: 0, namespace: 'default-budget' });
    const monitor = await admin.monitor();
    try {
      await store.set('k', 'v', { dependsOn: ['t'] });
      const budgets: string[] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        // EVALSHA (or EVAL) script numkeys KEYS[1] limit budget raceWindow ntags tag …: the invalidation script's ARGV[2]
        if (/^eval/i.test(args[0] ?? '') && args[3] === '{default-budget:0}' && args[7] === '1' && args[8] === 'u:t') budgets.push(args[5]!);
      });
      expect(await store.invalidate('t')).to.equal(1);
      await eventually(() => budgets.length > 0, { what: 'the invalidation call seen by MONITOR' });
      expect(budgets).to.deep.equal(['2']);
    } finally {
      monitor.disconnect();
      await store.clear();
      await store.disconnect();
    }
  });

  it('turns a bulk update\'s changed rows into tags over several calls, bumping every generation and removing exactly the matching entries', async () => {
    // A small chunk (entries per call) and no time limit: where each call stops does not depend on the machine.
    const store = new CleverStore(server.url, { sweepInterval: 0, invalidateChunk: 10, invalidateBudget: 60_000, namespace: 'rows' });
    try {
      // 3000 posts cached one by one and per author (2 schemes); 1500 changed rows hit the even ids.
      for (let i = 0; i < 3000; i += 500) {
        await store.setMany(Array.from({ length: 500 }, (_, j) => ({ key: `post${i + j}`, value: 'v', ttl: { dependsOn: [matching('posts', { id: i + j })] } })));
      }
      for (let a = 0; a < 30; a++) await store.set(`author${a}`, 'v', { dependsOn: [matching('posts', { authorId: a })] });
      const row = (id: number, authorId = id % 20) => ({ table: 'posts', values: { id: encodeValue(id, () => 'id'), authorId: encodeValue(authorId, () => 'authorId') } });
      // First a call's worth of one repeated row (its tags done at once, rows still to come), then
      // the even ids, then ids nothing is cached under (their tags hold no entry).
      const rows = [
        ...Array.from({ length: 250 }, () => row(0)),
        ...Array.from({ length: 1500 }, (_, k) => row(2 * k)),
        ...Array.from({ length: 100 }, (_, k) => row(5000 + k, 0)),
      ];
      const before = await evalCalls();
      expect(await internalsOf(store)!.invalidateRequest({ tags: [], rows })).to.equal(1500 + 10);
      expect((await evalCalls()) - before).to.be.at.least(1510 / 10);
      for (let i = 0; i < 3000; i++) expect(await store.get(`post${i}`)).to.equal(i % 2 === 0 ? undefined : 'v');
      for (let a = 0; a < 30; a++) expect(await store.get(`author${a}`)).to.equal(a < 20 && a % 2 === 0 ? undefined : 'v');
      // The last rows' tags had their generations bumped too (a fill that read them before is
      // refused), entries or not.
      for (const id of [2998, 5099]) expect(await admin.exists(`{rows:0}g:${conjunctionTag('posts', ['id'], [encodeValue(id, () => 'id')])}`)).to.equal(1);
    } finally {
      await store.clear();
      await store.disconnect();
    }
  });

  it('keeps the index bounded under churn: 100k short-lived sets, then a sweep, leave no index behind', async () => {
    const store = new CleverStore(server.url, { sweepInterval: 0, namespace: 'churn' });
    const indexBytes = async () => {
      let total = 0;
      for (const key of await scanAll(admin, '{churn:0}[ip]:*')) total += Number(await admin.memory('USAGE', key));
      return total;
    };
    try {
      await store.set('steady', 'v', { dependsOn: ['steady', matching('posts', { id: 1 })] });
      const baseline = await indexBytes();
      for (let i = 0; i < 100_000; i += 1000) {
        await store.setMany(Array.from({ length: 1000 }, (_, j) => ({
          key: `churn${i + j}`, value: 'v', ttl: { ttl: 1000, dependsOn: ['hot', `group${(i + j) % 500}`, matching('posts', { id: (i + j) % 50 })] },
        })));
      }
      const loaded = await indexBytes();
      expect(loaded).to.be.greaterThan(baseline + 100_000);
      // Sweeps until the members' indexed-until has passed: only the steady entry's members remain.
      let pruned = 0;
      await eventually(async () => {
        pruned += await store.sweep();
        return (await indexBytes()) === baseline;
      }, { what: 'the churned members pruned', every: 100 });
      expect(pruned).to.be.greaterThan(0);
      expect(await store.entriesFor('steady')).to.deep.equal(['steady']);
      expect(await store.invalidate(matching('posts', { id: 1 }))).to.equal(1);
    } finally {
      await store.clear();
      await store.disconnect();
    }
  });
});

describe('Redis backend: eviction policy check', () => {
  for (const policy of ['allkeys-lru', 'allkeys-lfu', 'allkeys-random']) {
    it(`emits an 'error' naming ${policy}, and refuses when asked to`, async () => {
      const server = await PrivateRedis.start(['--maxmemory-policy', policy]);
      const warned = new CleverStore(server.url, { sweepInterval: 0 });
      const refusing = new CleverStore(server.url, { sweepInterval: 0, onUnsafeEviction: 'refuse' });
      const throwing = new CleverStore(server.url, { sweepInterval: 0, onUnsafeEviction: 'refuse', throwOnErrors: true });
      try {
        const error = await new Promise<Error>((resolve) => warned.once('error', resolve));
        expect(error.message).to.contain(policy).and.contain('noeviction');
        expect(await warned.set('k', 'v')).to.equal(true);

        const errors: Error[] = [];
        refusing.on('error', (e) => errors.push(e));
        expect(await refusing.set('r', 'v')).to.equal(false);
        expect(await refusing.get('k')).to.equal(undefined);
        expect(errors.map((e) => e.message).join()).to.contain(policy);
        await refusing.invalidate('t').then(() => expect.fail('invalidate should reject'), (e: Error) => expect(e.message).to.contain(policy));
        throwing.on('error', () => undefined);
        await throwing.get('k').then(() => expect.fail('get should reject'), (e: Error) => expect(e.message).to.contain(policy));
        const probe = new Redis(server.url);
        expect(await probe.exists(`{:0}v:r`)).to.equal(0);
        await probe.quit();
      } finally {
        await Promise.all([warned.disconnect(), refusing.disconnect(), throwing.disconnect()]);
        await server.stop();
      }
    });
  }

  for (const policy of ['noeviction', 'volatile-lru', 'volatile-ttl']) {
    it(`accepts ${policy} silently`, async () => {
      const server = await PrivateRedis.start(['--maxmemory-policy', policy]);
      const store = new CleverStore(server.url, { sweepInterval: 0, onUnsafeEviction: 'refuse', throwOnErrors: true });
      const errors: Error[] = [];
      store.on('error', (e) => errors.push(e));
      try {
        expect(await store.set('k', 'v', { dependsOn: ['t'] })).to.equal(true);
        expect(await store.invalidate('t')).to.equal(1);
        expect(errors).to.deep.equal([]);
      } finally {
        await store.disconnect();
        await server.stop();
      }
    });
  }
});

describe('Redis backend: invalidations reach the replicas (private redis-server and replica)', function () {
  this.timeout(60_000);
  let primary: PrivateRedis;
  let replica: PrivateRedis;
  let admin: Redis;
  let stop: () => Promise<void>;
  before(async () => {
    ({ primary, replica, stop } = await startReplicated(['--repl-diskless-sync-delay', '0']));
    admin = new Redis(primary.url);
    await eventually(() => replicaSynced(replica.port), { what: 'the replica syncing' });
    // The invalidation script counts the replicas the primary lists online (a moment after the sync).
    await eventually(async () => /slave0:[^\r\n]*state=online/.test(String(await admin.info('replication'))), { what: 'the primary listing its replica online' });
  });
  after(async () => {
    admin.disconnect();
    await stop();
  });

  const waits = () => commandCalls(admin, 'wait');

  it('resolves once the connected replica has the invalidation, and fails (queued for retry) when it does not answer in replicaTimeout', async () => {
    const store = new CleverStore(primary.url, { sweepInterval: 0, namespace: 'replicated', replicaTimeout: 1000 });
    const errors: Error[] = [];
    store.on('error', (e: Error) => errors.push(e));
    try {
      await store.set('a', '1', { dependsOn: ['t'] });
      const before = await waits();
      expect(await store.invalidate('t')).to.equal(1);
      expect(await waits()).to.equal(before + 1);
      expect(errors).to.deep.equal([]);

      await store.set('b', '2', { dependsOn: ['t'] });
      replica.freeze();
      const error = await store.invalidate('t').then(() => undefined, (e: Error) => e);
      expect(error?.message).to.match(/invalidation in namespace 'replicated' reached 0 of the 1 replica\(s\) of Redis server within replicaTimeout \(1000 ms\)/);
      expect(store.pendingInvalidations).to.equal(1);
      replica.thaw();
      await store.flushInvalidations();
      expect(store.pendingInvalidations).to.equal(0);
    } finally {
      replica.thaw();
      await store.disconnect();
    }
  });

  it('does not wait with waitForReplicas: false, nor on a Redis without replicas', async () => {
    const store = new CleverStore(primary.url, { sweepInterval: 0, namespace: 'unreplicated', waitForReplicas: false });
    const alone = new CleverStore(REDIS_URL, { sweepInterval: 0, namespace: uniqueNamespace('alone') });
    const single = new Redis(REDIS_URL);
    try {
      await store.set('a', '1', { dependsOn: ['t'] });
      const before = await waits();
      replica.freeze();
      expect(await store.invalidate('t')).to.equal(1);
      expect(await waits()).to.equal(before);
      expect(store.pendingInvalidations).to.equal(0);

      const singleWaits = () => commandCalls(single, 'wait');
      await alone.set('a', '1', { dependsOn: ['t'] });
      const singleBefore = await singleWaits();
      expect(await alone.invalidate('t')).to.equal(1);
      expect(await singleWaits()).to.equal(singleBefore);
    } finally {
      replica.thaw();
      single.disconnect();
      await alone.clear();
      await store.disconnect();
      await alone.disconnect();
    }
  });
});

describe('Redis backend: a replica still in its full sync does not hold invalidations up (private redis-server and replica)', function () {
  this.timeout(60_000);
  let primary: PrivateRedis;
  let stop: () => Promise<void>;
  before(async () => {
    // The primary waits 60 s before it streams the replica its first copy: the replica stays in its full sync.
    ({ primary, stop } = await startReplicated(['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '60']));
  });
  after(() => stop());

  it('counts only replicas online: invalidate() resolves without waiting for one that is syncing', async () => {
    const admin = new Redis(primary.url);
    const store = new CleverStore(primary.url, { sweepInterval: 0, namespace: 'syncing', replicaTimeout: 200 });
    const errors: Error[] = [];
    store.on('error', (e: Error) => errors.push(e));
    try {
      await eventually(async () => /slave0:[^\r\n]*state=(?!online)/.test(await admin.info('replication')), { what: 'the replica connecting' });
      expect(await admin.info('replication')).to.match(/connected_slaves:1/);
      await store.set('a', '1', { dependsOn: ['t'] });
      const before = await commandCalls(admin, 'wait');
      expect(await store.invalidate('t')).to.equal(1);
      expect(await commandCalls(admin, 'wait')).to.equal(before);
      expect(store.pendingInvalidations).to.equal(0);
      expect(errors).to.deep.equal([]);
    } finally {
      admin.disconnect();
      await store.disconnect();
    }
  });
});
