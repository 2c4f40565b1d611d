import { expect } from 'chai';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { movedSlot, replyCode } from '../../lib/backends/redis/layout.js';
import { Layout, bucketOf, bucketPrefix, hashSlot } from '../../lib/backends/redis/index.js';
import { clusterNodes, uniqueNamespace } from '../support/backends.js';

/** Slot routing and redirection errors (layout.ts), checked against the local cluster. */
describe('Redis layout: slots and nodes, as Redis Cluster itself computes them', () => {
  let cluster: Cluster;
  let node: Redis;
  const keySlot = async (key: string) => Number(await node.call('CLUSTER', 'KEYSLOT', key));
  before(async () => {
    const [first] = clusterNodes();
    cluster = new Cluster(clusterNodes());
    node = new Redis(first!.port, first!.host);
    await cluster.ping();
  });
  after(() => {
    cluster.disconnect();
    node.disconnect();
  });

  it('gives every key the slot CLUSTER KEYSLOT gives it, as cluster-key-slot does', async () => {
    // Not keys with an empty `{}` before a later `}` (`{}{y}`, `app{}:{ns:0}v:k`): cluster-key-slot,
    // and so ioredis's own routing, hash those otherwise than Redis. No store key has that shape
    // unless its keyPrefix does, and such a prefix leaves no bucket in one slot anyway.
    const keys = [
      'plain', '{ns:0}v:k', '{ns:15}m:', 'a{b}c{d}', '{}x', '{}{', '{{z}}', '{', '}{a}', '',
      '{héllo ✓:3}v:clé', `{${'n'.repeat(300)}:1}i:t`, 'tenant{t}:{ns:2}v:k',
    ];
    for (const key of keys) {
      const expected = await keySlot(key);
      expect(hashSlot(key), key).to.equal(expected);
      expect(calculateSlot(key), key).to.equal(expected);
    }
  });

  it('routes a bucket by its slot with the client\'s keyPrefix, to the master that holds its keys', async () => {
    // A keyPrefix with a hash tag of its own moves every key to that tag's slot.
    for (const keyPrefix of ['', 'app:', '{tenant}:']) {
      const client = new Cluster(clusterNodes(), { keyPrefix });
      try {
        await client.ping();
        const ns = uniqueNamespace('route');
        const layout = new Layout(client, () => 4);
        expect(layout.keyPrefix).to.equal(keyPrefix);
        expect(layout.bucketPrefixes(ns)).to.deep.equal([0, 1, 2, 3].map((b) => bucketPrefix(ns, b)));
        for (const key of ['a', 'b', 'c', 'd', 'e']) {
          const p = layout.prefix(ns, key);
          expect(p).to.equal(bucketPrefix(ns, bucketOf(key, 4)));
          expect(layout.slotOf(p), `${keyPrefix}${p}`).to.equal(await keySlot(`${keyPrefix}${p}v:${key}`));
          await client.set(`${p}v:${key}`, 'x');
          const [host, port] = layout.nodeOf(p)!.split(':');
          const owner = new Redis(Number(port), host!);
          try {
            expect(await owner.exists(`${keyPrefix}${p}v:${key}`), `${keyPrefix}${p} on ${port}`).to.equal(1);
          } finally {
            owner.disconnect();
          }
          await client.del(`${p}v:${key}`);
        }
      } finally {
        client.disconnect();
      }
    }
  });

  it('on a single Redis, every bucket is served by the one process', async () => {
    const layout = new Layout(node, () => 16);
    expect(layout.nodeOf(bucketPrefix('ns', 3))).to.equal('');
    expect(layout.masters()).to.deep.equal([node]);
  });

  it('recognises a cluster redirection by the code of Redis\'s error reply', async () => {
    const ns = uniqueNamespace('moved');
    // A key this node does not serve: MOVED from a plain command, and from a script (ERR, "Script attempted to access ...").
    let elsewhere = '';
    for (let b = 0; !elsewhere; b++) {
      const p = bucketPrefix(ns, b);
      if (cluster.slots[hashSlot(p)]![0] !== `${node.options.host}:${node.options.port}`) elsewhere = p;
    }
    const here = await (async () => {
      for (let b = 0; ; b++) {
        const p = bucketPrefix(ns, b);
        if (cluster.slots[hashSlot(p)]![0] === `${node.options.host}:${node.options.port}`) return p;
      }
    })();
    const failure = async (run: () => Promise<unknown>) => run().then(() => expect.fail('expected an error'), (e: unknown) => e);
    const moved = await failure(() => node.get(`${elsewhere}v:k`));
    expect(replyCode(moved)).to.equal('MOVED');
    expect(movedSlot(moved)).to.equal(true);
    const crossSlot = await failure(() => cluster.mget(`${here}v:k`, `${elsewhere}v:k`));
    expect(replyCode(crossSlot)).to.equal('CROSSSLOT');
    expect(movedSlot(crossSlot)).to.equal(true);
    const script = '#!lua flags=allow-cross-slot-keys\nreturn redis.call("GET", ARGV[1])';
    const nonLocal = await failure(() => node.eval(script, 1, `${here}v:k`, `${elsewhere}v:k`));
    expect(replyCode(nonLocal)).to.equal('ERR');
    expect(movedSlot(nonLocal)).to.equal(true);
    // Other errors are not redirections, whatever their text says.
    await node.set(`${here}s:t`, 'x');
    const wrongType = await failure(() => node.call('SADD', `${here}s:t`, 'MOVED'));
    expect(replyCode(wrongType)).to.equal('WRONGTYPE');
    expect(movedSlot(wrongType)).to.equal(false);
    const syntax = await failure(() => node.call('GET', 'a', 'MOVED'));
    expect(replyCode(syntax)).to.equal('ERR');
    expect(movedSlot(syntax)).to.equal(false);
    expect(movedSlot(new Error('MOVED 1 127.0.0.1:1'))).to.equal(false);
    expect(replyCode(new Error('MOVED 1 127.0.0.1:1'))).to.equal(undefined);
    await node.del(`${here}s:t`);
  });
});
