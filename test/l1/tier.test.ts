import { expect } from 'chai';
import { Redis } from 'ioredis';
import { CleverStore, InvalidOptionError, matching } from '../../lib/index.js';
import { bucketOf, escapeNamespace, hashSlot } from '../../lib/backends/redis/index.js';
import { Tier } from '../../lib/backends/redis/l1/tier.js';
import { clusterNodes, REDIS_URL, uniqueNamespace } from '../support/backends.js';
import { eventually } from '../support/eventually.js';
import { LocalCluster } from '../support/cluster.js';
import { command, PrivateRedis } from '../support/redis-server.js';

const valueKey = (ns: string, key: string, bucket = 0) => `{${escapeNamespace(ns)}:${bucket}}v:${key}`;

/** Reads until the tier serves the key (the second read of a covered namespace at the latest). */
async function cachedIn(store: CleverStore, key: string, expected: string): Promise<void> {
  await eventually(async () => {
    const before = store.stats.l1Hits;
    expect(await store.get(key)).to.equal(expected);
    return store.stats.l1Hits > before;
  }, { what: `${key} served from the tier` });
}

/** Polls until `store` no longer returns `stale` for `key`, then checks it never does again. */
async function neverAgain(store: CleverStore, key: string, stale: string | undefined, what: string): Promise<void> {
  await eventually(async () => (await store.get(key)) !== stale, { what });
  for (let i = 0; i < 20; i++) expect(await store.get(key), `${what}: read ${i}`).to.not.equal(stale);
}

describe('l1: the tier itself', () => {
  const tier = () => new Tier({ maxEntries: 100, maxBytes: 10_000, ttl: undefined });

  it('refuses to fill a key invalidated while its read was in flight, or after a flush', () => {
    const t = tier();
    const first = t.begin(['a', 'b']);
    t.drop(['a']);
    expect(t.fill(first, 0, 'old', -1)).to.equal(false);
    expect(t.fill(first, 1, 'fine', -1)).to.equal(true);
    t.end(first);
    const second = t.begin(['c']);
    t.flush();
    expect(t.fill(second, 0, 'old', -1)).to.equal(false);
    t.end(second);
    expect([t.get('a'), t.get('b'), t.get('c')]).to.deep.equal([undefined, undefined, undefined]);
  });

  it('holds at most maxEntries and maxBytes, and nothing past its Redis expiry', async () => {
    const t = new Tier({ maxEntries: 1000, maxBytes: 5000, ttl: undefined });
    for (let i = 0; i < 200; i++) {
      const ticket = t.begin([`k${i}`]);
      t.fill(ticket, 0, 'x'.repeat(50), -1);
      t.end(ticket);
    }
    expect(t.bytes).to.be.at.most(5000);
    expect(t.size).to.be.lessThan(200);
    const ticket = t.begin(['short']);
    expect(t.fill(ticket, 0, 'v', 30)).to.equal(true);
    t.end(ticket);
    const deadline = ticket.started + 30;
    await eventually(() => performance.now() > deadline, { what: 'the entry expiring' });
    expect(t.get('short')).to.equal(undefined);
  });
});

describe('l1: options', () => {
  it('rejects bad bounds by name, and l1 without Redis', () => {
    expect(() => new CleverStore(REDIS_URL, { l1: { maxBytes: -1 } })).to.throw(InvalidOptionError, /l1\.maxBytes must be a positive integer, got -1/);
    expect(() => new CleverStore(REDIS_URL, { l1: { maxEntries: 1.5 } })).to.throw(InvalidOptionError, /l1\.maxEntries/);
    expect(() => new CleverStore(REDIS_URL, { l1: { ttl: 'soon' } as never })).to.throw(InvalidOptionError, /l1\.ttl/);
    expect(() => new CleverStore(REDIS_URL, { l1: { size: 5 } as never })).to.throw(InvalidOptionError, /l1\.size/);
    expect(() => new CleverStore(REDIS_URL, { l1: true as never })).to.throw(InvalidOptionError, /l1 must be an object/);
    expect(() => new CleverStore({ l1: {} })).to.throw(InvalidOptionError, /l1 is a tier in front of Redis/);
  });
});

const targets: Array<{ name: string; open: (ns: string) => CleverStore; key: (ns: string, key: string) => Promise<string> }> = [
  { name: 'Redis', open: (namespace) => new CleverStore(REDIS_URL, { namespace, sweepInterval: 0, l1: {} }), key: async (ns, key) => valueKey(ns, key) },
  {
    name: 'Redis Cluster',
    open: (namespace) => new CleverStore({ cluster: clusterNodes(), namespace, sweepInterval: 0, replicaTimeout: 2000, l1: {} }),
    key: async (ns, key) => {
      const { bucketOf } = await import('../../lib/backends/redis/index.js');
      return valueKey(ns, key, bucketOf(key, 16));
    },
  },
];

for (const target of targets) {
  describe(`l1: two stores on ${target.name} (separate connections, as two processes)`, function () {
    this.timeout(60_000);
    let ns: string;
    let a: CleverStore;
    let b: CleverStore;
    beforeEach(() => {
      ns = uniqueNamespace('l1');
      a = target.open(ns);
      b = target.open(ns);
    });
    afterEach(async () => {
      await a.clear();
      await Promise.all([a.disconnect(), b.disconnect()]);
    });

    it('serves hits from the tier, and never a value the other store replaced, invalidated or deleted', async () => {
      await a.set('k', 'v1', { dependsOn: ['t'] });
      await cachedIn(b, 'k', 'v1');
      await a.set('k', 'v2', { dependsOn: ['t', matching('posts', { id: 1 })] });
      await neverAgain(b, 'k', 'v1', 'a write through the other store');
      expect(await b.get('k')).to.equal('v2');

      await cachedIn(b, 'k', 'v2');
      expect(await a.invalidate(matching('posts', { id: 1 }))).to.equal(1);
      await neverAgain(b, 'k', 'v2', 'an invalidation through the other store');

      await a.setMany(['x', 'y'].map((key) => ({ key, value: key })));
      await cachedIn(b, 'x', 'x');
      await cachedIn(b, 'y', 'y');
      expect(await b.getMany(['x', 'y', 'z'])).to.deep.equal(['x', 'y', undefined]);
      await a.delete('x');
      await neverAgain(b, 'x', 'x', 'a delete through the other store');
    });

    it('drops an entry on a raw DEL or SET by any client', async () => {
      const raw = target.name === 'Redis' ? new Redis(REDIS_URL) : null;
      const { Cluster } = await import('ioredis');
      const client = raw ?? new Cluster(clusterNodes());
      try {
        await a.set('k', 'v1');
        await cachedIn(b, 'k', 'v1');
        await client.del(await target.key(ns, 'k'));
        await neverAgain(b, 'k', 'v1', 'a raw DEL');
        await a.set('k', 'v2');
        await cachedIn(b, 'k', 'v2');
        await client.set(await target.key(ns, 'k'), 'v3');
        await neverAgain(b, 'k', 'v2', 'a raw SET');
        expect(await b.get('k')).to.equal('v3');
      } finally {
        client.disconnect();
      }
    });

    it('clears its own invalidations, deletes and writes before they resolve', async () => {
      await a.set('k', 'v1', { dependsOn: ['t'] });
      await cachedIn(a, 'k', 'v1');
      expect(await a.invalidate('t')).to.equal(1);
      expect(await a.get('k')).to.equal(undefined);
      await a.set('k', 'v2');
      await cachedIn(a, 'k', 'v2');
      await a.set('k', 'v3');
      expect(await a.get('k')).to.equal('v3');
      await cachedIn(a, 'k', 'v3');
      await a.delete('k');
      expect(await a.get('k')).to.equal(undefined);
      await a.set('k', 'v4');
      await cachedIn(a, 'k', 'v4');
      await a.clear();
      expect(await a.get('k')).to.equal(undefined);
    });

    it('keeps each entry no longer than its own Redis expiry', async () => {
      await a.set('k', 'short', { ttl: 300 });
      const written = Date.now(); // Redis set its expiry before this
      await cachedIn(b, 'k', 'short');
      await eventually(() => Date.now() > written + 300, { what: 'the ttl passing' });
      expect(await b.get('k')).to.equal(undefined);
    });
  });
}

describe('l1: a private Redis (FLUSHDB, killed connections)', function () {
  this.timeout(60_000);
  let server: PrivateRedis;
  let admin: Redis;
  before(async () => {
    server = await PrivateRedis.start();
    admin = new Redis(server.url);
  });
  after(async () => {
    admin.disconnect();
    await server.stop();
  });
  let a: CleverStore;
  let b: CleverStore;
  beforeEach(() => {
    a = new CleverStore(server.url, { namespace: 'n', sweepInterval: 0, l1: {} });
    b = new CleverStore(server.url, { namespace: 'n', sweepInterval: 0, l1: {} });
  });
  afterEach(async () => {
    await Promise.all([a.disconnect(), b.disconnect()]);
  });

  it('flushes the tier on a FLUSHDB or FLUSHALL (a null message), in any database', async () => {
    await a.set('k', 'v1');
    await cachedIn(b, 'k', 'v1');
    await admin.flushdb();
    await neverAgain(b, 'k', 'v1', 'a FLUSHDB');
    await a.set('k', 'v2');
    await cachedIn(b, 'k', 'v2');
    const other = new Redis(`${server.url}/3`);
    await other.flushdb(); // tracking is per server: a flush of another database flushes too
    other.disconnect();
    await eventually(() => b.l1!.entries === 0, { what: 'the tier flushed' });
  });

  it('flushes the tier when a tracking connection is killed, and tracks again after the new handshake', async () => {
    await a.set('k', 'v1');
    await cachedIn(b, 'k', 'v1');
    const list = String(await admin.client('LIST'));
    const tracking = list.split('\n').filter((line) => line.includes('name=keyv-clever:l1'));
    expect(tracking, 'two tracking connections per store').to.have.length(4);
    // Kill the subscribers: each reconnects with a new client id, and the redirect must follow it.
    expect(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))).to.equal(2);
    await eventually(() => b.l1!.entries === 0, { what: 'the tier flushed' });
    await admin.set('{n:0}v:k', 'v2'); // while tracking is down or being re-established
    await neverAgain(b, 'k', 'v1', 'a write while tracking was down');
    await cachedIn(b, 'k', 'v2');
    await a.set('k', 'v3');
    await neverAgain(b, 'k', 'v2', 'a write after the new handshake');
  });

  it('flushes the tier when the control connection is killed, and tracks again', async () => {
    await a.set('k', 'v1');
    await cachedIn(b, 'k', 'v1');
    const list = String(await admin.client('LIST'));
    const controls = list.split('\n').filter((line) => line.includes('name=keyv-clever:l1') && !/ flags=P /.test(line));
    expect(controls).to.have.length(2);
    for (const line of controls) await admin.client('KILL', 'ID', /id=(\d+)/.exec(line)![1]!);
    await eventually(() => b.l1!.entries === 0, { what: 'the tier flushed' });
    await admin.set('{n:0}v:k', 'v2');
    await neverAgain(b, 'k', 'v1', 'a write while tracking was down');
    await cachedIn(b, 'k', 'v2');
    await a.set('k', 'v3');
    await neverAgain(b, 'k', 'v2', 'a write after the new handshake');
  });
});

describe('l1: a failover on the cluster (a cluster of its own)', function () {
  this.timeout(120_000);
  let cluster: LocalCluster;
  before(async () => { cluster = await LocalCluster.start(6, 1); });
  after(async () => { await cluster?.stop(); });

  it('serves nothing stale when the master of a key is replaced and stopped, and tracks the promoted replica', async () => {
    const ns = uniqueNamespace('l1-failover');
    const options = { cluster: cluster.nodes, sweepInterval: 0, namespace: ns, replicaTimeout: 2000 };
    const a = new CleverStore(options);
    const b = new CleverStore({ ...options, l1: {} });
    a.on('error', () => undefined); // redirections during the failover are expected
    b.on('error', () => undefined);
    // Writes retried through the failover, as the retry queue does for invalidations.
    const write = async (value: string) => {
      await eventually(async () => (await a.set('k', value).catch(() => false)) === true, { what: `k set to ${value}`, timeout: 30_000 });
    };
    try {
      await write('v1');
      await cachedIn(b, 'k', 'v1');
      // The master holding k, and its replica: promote the replica.
      const slot = hashSlot(valueKey(ns, 'k', bucketOf('k', 16)));
      const admin = new Redis(cluster.ports[0]!, '127.0.0.1');
      const ranges = await admin.call('CLUSTER', 'SLOTS') as Array<[number, number, [string, number], [string, number]?]>;
      admin.disconnect();
      const masterPort = Number(ranges.find(([from, to]) => slot >= from && slot <= to)![2][1]);
      let replicaPort = 0;
      await eventually(async () => {
        for (const port of cluster.ports) {
          const role = await command(port, ['ROLE']) as [string, string, number];
          if (role[0] === 'slave' && Number(role[2]) === masterPort) replicaPort = port;
        }
        return replicaPort !== 0;
      }, { what: 'the replica of the master holding k' });
      const promoter = new Redis(replicaPort, '127.0.0.1');
      try {
        await promoter.call('CLUSTER', 'FAILOVER');
        await eventually(async () => ((await promoter.call('ROLE')) as [string])[0] === 'master', { what: 'the replica promoted', timeout: 30_000 });
      } finally {
        promoter.disconnect();
      }
      // The old master (a replica now) goes away: its session with it.
      await command(masterPort, ['SHUTDOWN', 'NOSAVE']).catch(() => undefined);
      await write('v2');
      await neverAgain(b, 'k', 'v1', 'a write on the promoted master');
      // Tracking follows the new master: the tier serves again, and drops what changes there.
      await cachedIn(b, 'k', 'v2');
      await write('v3');
      await neverAgain(b, 'k', 'v2', 'a write after tracking moved to the promoted master');
    } finally {
      await a.clear().catch(() => undefined);
      await Promise.all([a.disconnect(), b.disconnect()]);
    }
  });
});
