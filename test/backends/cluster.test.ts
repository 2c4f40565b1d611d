import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import { CleverStore, matching } from '../../lib/index.js';
import { bucketOf, hashSlot } from '../../lib/backends/redis/index.js';
import { sleep } from '../support/backends.js';
import { LocalCluster } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { command, commandCalls } from '../support/redis-server.js';

const role = async (port: number) => ((await command(port, ['ROLE'])) as [string])[0];
const info = async (port: number, section: string) => String(await command(port, ['INFO', section]));
const pidOf = async (port: number) => Number(/process_id:(\d+)/.exec(await info(port, 'server'))![1]);

describe('Redis Cluster: layout and failover (a cluster of its own)', function () {
  this.timeout(120_000);
  let cluster: LocalCluster;
  before(async () => { cluster = await LocalCluster.start(); });
  after(async () => { await cluster?.stop(); });

  it('spreads one namespace over buckets on every master, and clear() and iterator() cover them all', async () => {
    const store = new CleverStore({ cluster: cluster.nodes, sweepInterval: 0, namespace: 'spread', replicaTimeout: 2000 });
    try {
      await store.setMany(Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: String(i), ttl: { dependsOn: ['all', matching('t', { g: i % 3 })] } })));
      const masters = [];
      for (const port of cluster.ports) if ((await role(port)) === 'master') masters.push(port);
      expect(masters).to.have.length(3);
      for (const port of masters) {
        const node = new Redis(port, '127.0.0.1');
        expect(await node.dbsize(), `master ${port} holds part of the namespace`).to.be.greaterThan(0);
        node.disconnect();
      }
      const seen = new Set<string>();
      for await (const [key] of store.iterator('spread')) seen.add(key);
      expect(seen.size).to.equal(300);
      expect(await store.invalidate(matching('t', { g: 1 }))).to.equal(100);
      await store.clear();
      for (const port of masters) {
        const node = new Redis(port, '127.0.0.1');
        expect(await node.dbsize()).to.equal(0);
        node.disconnect();
      }
    } finally {
      await store.disconnect();
    }
  });

  it('sends the calls of one tick bound for one node as one read and one write, and bucket by bucket once a slot has moved', async () => {
    const client = new Cluster(cluster.nodes);
    const store = new CleverStore({ redis: client, sweepInterval: 0, namespace: 'per-node', buckets: 16 });
    const errors: Error[] = [];
    store.on('error', (e: Error) => errors.push(e));
    const masters: Redis[] = [];
    const scriptCalls = async () => Promise.all(masters.map((m) => commandCalls(m, 'evalsha', 'eval')));
    const keys = Array.from({ length: 120 }, (_, i) => `k${i}`);
    try {
      for (const port of cluster.ports) if ((await role(port)) === 'master') masters.push(new Redis(port, '127.0.0.1'));
      // Load the scripts everywhere first.
      await store.setMany(keys.map((key) => ({ key, value: 'warm', ttl: { dependsOn: ['all'] } })));
      await Promise.all(keys.map((key) => store.get(key)));
      for (const m of masters) await m.config('RESETSTAT');
      // 120 keys over 16 buckets: every node holds many of them. A node's calls go out together,
      // 24 at most per command (the rest follow in the next one).
      const perNode = masters.map((m) => keys.filter((key) => client.slots[hashSlot(`{per-node:${bucketOf(key, 16)}}`)]![0] === `127.0.0.1:${m.options.port}`).length);
      expect(perNode.reduce((a, b) => a + b)).to.equal(keys.length);
      const commands = perNode.map((n) => Math.ceil(n / 24));
      expect(await Promise.all(keys.map((key, i) => store.set(key, `v${i}`, { dependsOn: ['all'] })))).to.deep.equal(keys.map(() => true));
      expect(await scriptCalls()).to.deep.equal(commands);
      expect(await Promise.all(keys.map((key) => store.get(key)))).to.deep.equal(keys.map((_, i) => `v${i}`));
      expect(await scriptCalls()).to.deep.equal(commands.map((n) => 2 * n));

      // Point one bucket's slot at a node that does not serve it, as a client sees it during a
      // resharding: that node's combined calls fail, and are sent again bucket by bucket.
      const slot = hashSlot(`{per-node:${bucketOf('k0', 16)}}`);
      const owner = client.slots[slot]![0]!;
      const other = client.slots.find((nodes) => nodes !== undefined && nodes[0] !== owner)![0]!;
      client.slots[slot] = [other];
      expect(await Promise.all(keys.map((key, i) => store.set(key, `w${i}`, { dependsOn: ['all'] })))).to.deep.equal(keys.map(() => true));
      client.slots[slot] = [other];
      expect(await Promise.all(keys.map((key) => store.get(key)))).to.deep.equal(keys.map((_, i) => `w${i}`));
      expect(await store.invalidate('all')).to.equal(keys.length);
      expect(errors).to.deep.equal([]);
    } finally {
      for (const m of masters) m.disconnect();
      await store.clear().catch(() => undefined);
      await store.disconnect();
      client.disconnect();
    }
  });

  it('holds the gets of later ticks for a node still answering, and sends them as one command once it answers', async () => {
    const client = new Cluster(cluster.nodes);
    const store = new CleverStore({ redis: client, sweepInterval: 0, namespace: 'in-flight', buckets: 16 });
    let master: Redis | undefined;
    try {
      await store.set('warm', 'up');
      // 21 keys of one bucket: its node answers them with GET / MGET, counted by commandstats.
      const bucket = bucketOf('k0', 16);
      const keys = Array.from({ length: 400 }, (_, i) => `k${i}`).filter((k) => bucketOf(k, 16) === bucket).slice(0, 21);
      expect(keys).to.have.length(21);
      await store.setMany(keys.map((key) => ({ key, value: `v:${key}` })));
      expect(await store.get(keys[0]!)).to.equal(`v:${keys[0]}`);
      const [host, port] = client.slots[hashSlot(`{in-flight:${bucket}}`)]![0]!.split(':');
      master = new Redis(Number(port), host!);
      await master.config('RESETSTAT');
      // The node answers nothing for 300 ms: the first get is in flight all that time.
      await master.call('CLIENT', 'PAUSE', '300', 'ALL');
      const first = store.get(keys[0]!);
      const later: Array<Promise<string | undefined>> = [];
      for (const key of keys.slice(1)) {
        await new Promise((resolve) => setImmediate(resolve)); // a tick of its own
        later.push(store.get(key));
      }
      expect(await Promise.all([first, ...later])).to.deep.equal(keys.map((key) => `v:${key}`));
      // One GET (the first), one MGET (the 20 issued while it was in flight), nothing else.
      expect([await commandCalls(master, 'get'), await commandCalls(master, 'mget'), await commandCalls(master, 'evalsha')]).to.deep.equal([1, 1, 0]);
    } finally {
      master?.disconnect();
      await store.clear().catch(() => undefined);
      await store.disconnect();
      client.disconnect();
    }
  });

  it('reads the bucket-count marks at a namespace\'s first write with one read per node', async () => {
    const client = new Cluster(cluster.nodes);
    const store = new CleverStore({ redis: client, sweepInterval: 0, namespace: 'first-write', buckets: 16 });
    const masters: Redis[] = [];
    try {
      for (const port of cluster.ports) if ((await role(port)) === 'master') masters.push(new Redis(port, '127.0.0.1'));
      // Load the scripts on every node (another namespace), then count from zero.
      const warm = new CleverStore({ redis: client, sweepInterval: 0, namespace: 'first-write-warm', buckets: 16 });
      await warm.setMany(Array.from({ length: 64 }, (_, i) => ({ key: `k${i}`, value: 'v', ttl: { dependsOn: ['t'] } })));
      await warm.getMany(Array.from({ length: 64 }, (_, i) => `k${i}`));
      await warm.clear();
      for (const m of masters) await m.config('RESETSTAT');
      expect(await store.set('k', 'v', { dependsOn: ['t'] })).to.equal(true);
      const calls = async (...names: string[]) => (await Promise.all(masters.map((m) => commandCalls(m, ...names)))).reduce((a, b) => a + b, 0);
      // Script calls: the refused set, one read per master of the 63 other marks (MARKS_PROBED), the
      // record, the set again. (Redis counts the commands scripts run too: a few GETs of marks
      // inside the set and record scripts, where single GETs would be 63.)
      expect(await calls('evalsha', 'eval')).to.equal(1 + masters.length + 1 + 1);
      expect(await calls('get')).to.be.below(16);
      expect(await store.get('k')).to.equal('v');
    } finally {
      for (const m of masters) m.disconnect();
      await store.clear().catch(() => undefined);
      await store.disconnect();
      client.disconnect();
    }
  });

  it('getMany answers what the other masters hold while one does not answer, and says so', async () => {
    const store = new CleverStore({ cluster: cluster.nodes, sweepInterval: 0, namespace: 'partial', commandTimeout: 300 });
    const errors: Error[] = [];
    store.on('error', (e: Error) => errors.push(e));
    let frozen = 0;
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
      await store.setMany(keys.map((key) => ({ key, value: `v:${key}` })));
      const client = store.client as Cluster;
      const masterPort = Number(client.slots[hashSlot(`{partial:${bucketOf('k0', 16)}}`)]![0]!.split(':')[1]);
      const onFrozen = (key: string) => client.slots[hashSlot(`{partial:${bucketOf(key, 16)}}`)]![0] === `127.0.0.1:${masterPort}`;
      frozen = await pidOf(masterPort);
      process.kill(frozen, 'SIGSTOP'); // well under the cluster's node timeout: no failover
      const values = await store.getMany(keys);
      process.kill(frozen, 'SIGCONT');
      frozen = 0;
      expect(values).to.deep.equal(keys.map((key) => (onFrozen(key) ? undefined : `v:${key}`)));
      expect(keys.filter(onFrozen).length).to.be.within(1, keys.length - 1);
      expect(errors.map((e) => e.message)).to.deep.equal([`keyv-clever: ${keys.filter(onFrozen).length} of ${keys.length} keys could not be read (Command timed out); they are misses`]);
      expect(await store.getMany(keys)).to.deep.equal(keys.map((key) => `v:${key}`));
    } finally {
      if (frozen) process.kill(frozen, 'SIGCONT');
      await store.clear().catch(() => undefined);
      await store.disconnect();
    }
  });

  it('waits for the replicas of every master an invalidation ran on (WAIT, once per master)', async () => {
    const client = new Cluster(cluster.nodes);
    const store = new CleverStore({ redis: client, sweepInterval: 0, namespace: 'replicated', buckets: 16 });
    const masters: Redis[] = [];
    try {
      for (const port of cluster.ports) if ((await role(port)) === 'master') masters.push(new Redis(port, '127.0.0.1'));
      await store.setMany(Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: 'v', ttl: { dependsOn: ['t'] } })));
      for (const m of masters) await m.config('RESETSTAT');
      expect(await store.invalidate('t')).to.equal(100);
      const waits = await Promise.all(masters.map((m) => commandCalls(m, 'wait')));
      expect(waits).to.deep.equal(masters.map(() => 1));
    } finally {
      for (const m of masters) m.disconnect();
      await store.clear().catch(() => undefined);
      await store.disconnect();
      client.disconnect();
    }
  });

  it('continues a big invalidation one call at a time per node, after one first call per bucket', async () => {
    const client = new Cluster(cluster.nodes);
    const store = new CleverStore({ redis: client, sweepInterval: 0, namespace: 'turns', buckets: 16, invalidateChunk: 10 });
    // Counts the invalidation calls in flight per node, the first call of each bucket apart.
    const calls = client as unknown as { keyvCleverInvalidate: (prefix: string, ...args: unknown[]) => Promise<unknown> };
    const send = calls.keyvCleverInvalidate.bind(client);
    const seen = new Set<string>();
    const inFlight = new Map<string, number>();
    const most = new Map<string, number>();
    let firsts = 0;
    calls.keyvCleverInvalidate = async (prefix, ...args) => {
      if (!seen.has(prefix)) {
        seen.add(prefix);
        firsts++;
        return send(prefix, ...args);
      }
      const node = client.slots[hashSlot(prefix)]![0]!;
      inFlight.set(node, (inFlight.get(node) ?? 0) + 1);
      most.set(node, Math.max(most.get(node) ?? 0, inFlight.get(node)!));
      try {
        return await send(prefix, ...args);
      } finally {
        inFlight.set(node, inFlight.get(node)! - 1);
      }
    };
    try {
      await store.setMany(Array.from({ length: 800 }, (_, i) => ({ key: `k${i}`, value: String(i), ttl: { dependsOn: ['all'] } })));
      expect(await store.invalidate('all')).to.equal(800);
      expect(firsts).to.equal(16);
      expect(most.size, 'every master continued its buckets').to.equal(3);
      expect([...most.values()]).to.deep.equal([1, 1, 1]);
      expect(await store.get('k0')).to.equal(undefined);
    } finally {
      await store.clear().catch(() => undefined);
      await store.disconnect();
      client.disconnect();
    }
  });

  it('serves no invalidated entry after a replica is promoted while reads, writes and invalidations run', async () => {
    const store = new CleverStore({ cluster: cluster.nodes, sweepInterval: 0, namespace: 'failover', replicaTimeout: 2000 });
    store.on('error', () => undefined); // redirections during the failover are expected
    let running = true;
    try {
      const victims = Array.from({ length: 20 }, (_, t) => Array.from({ length: 25 }, (_, i) => `victim-${t}-${i}`));
      for (const [t, keys] of victims.entries()) {
        await store.setMany(keys.map((key) => ({ key, value: 'stale', ttl: { dependsOn: [`v${t}`] } })));
      }
      const stopAt = Date.now() + 60_000;
      const background = (async () => {
        let i = 0;
        while (running && Date.now() < stopAt) {
          i++;
          // Yield to timers and I/O: during the failover calls may fail at once, and a loop of
          // promptly settled promises would starve the event loop.
          await new Promise((resolve) => setImmediate(resolve));
          await store.set(`load-${i % 200}`, String(i), { dependsOn: [`w${i % 7}`] });
          await store.get(`load-${(i * 7) % 200}`);
          if (i % 10 === 0) await store.invalidate(`w${i % 7}`).catch(() => undefined);
        }
      })();

      // Promote the replica of one master, and invalidate every victim tag meanwhile.
      const replica = (await Promise.all(cluster.ports.map(async (p) => [p, await role(p)] as const))).find(([, r]) => r === 'slave')![0];
      const promoter = new Redis(replica, '127.0.0.1');
      const failover = promoter.call('CLUSTER', 'FAILOVER').catch(() => undefined);
      for (let t = 0; t < victims.length; t++) {
        for (let attempt = 0; ; attempt++) {
          try {
            await store.invalidate(`v${t}`);
            break;
          } catch (error) {
            if (attempt > 50) throw error; // what the retry queue does for the hooks
            await sleep(100);
          }
        }
        await sleep(20);
      }
      await failover;
      for (let i = 0; i < 150 && (await role(replica)) !== 'master'; i++) {
        // A coordinated failover can time out on a loaded machine: take over without the old master then.
        if (i === 100) await promoter.call('CLUSTER', 'FAILOVER', 'TAKEOVER').catch(() => undefined);
        await sleep(100);
      }
      running = false;
      await background;
      promoter.disconnect();
      expect(await role(replica)).to.equal('master');

      for (const [t, keys] of victims.entries()) {
        expect(await store.getMany(keys), `entries of v${t}`).to.deep.equal(keys.map(() => undefined));
        expect(await store.entriesFor(`v${t}`)).to.deep.equal([]);
      }
    } finally {
      running = false;
      await store.clear().catch(() => undefined);
      await store.disconnect();
    }
  });
});

describe('Redis Cluster: a master that dies (a cluster of its own)', function () {
  this.timeout(120_000);
  let cluster: LocalCluster;
  const stopped: number[] = [];
  before(async () => { cluster = await LocalCluster.start(); });
  after(async () => {
    for (const pid of stopped) try { process.kill(pid, 'SIGCONT'); } catch { /* already gone */ }
    await cluster?.stop();
  });

  /** Values of the test's namespace a node holds. */
  const entriesOn = async (port: number) => {
    const client = new Redis(port, '127.0.0.1');
    try {
      let n = 0;
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', '{crash:*}v:*', 'COUNT', 1000);
        cursor = next;
        n += batch.length;
      } while (cursor !== '0');
      return n;
    } finally {
      client.disconnect();
    }
  };

  it('counts an invalidation its replica did not receive as failed, and its retry removes what the failover brought back', async () => {
    const store = new CleverStore({ cluster: cluster.nodes, sweepInterval: 0, namespace: 'crash', replicaTimeout: 200 });
    store.on('error', () => undefined); // the failed invalidation and the dead master's connection
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
      await store.setMany(keys.map((key) => ({ key, value: 'stale', ttl: { dependsOn: ['doomed'] } })));
      // A master and its replica; the replica stops receiving (frozen) before the invalidation.
      let master = 0;
      let replica = 0;
      for (const port of cluster.ports) {
        const replication = await info(port, 'replication');
        if (!replication.includes('role:slave')) continue;
        replica = port;
        master = Number(/master_port:(\d+)/.exec(replication)![1]);
        break;
      }
      const held = await entriesOn(master);
      expect(held).to.be.greaterThan(0);
      // Replication is asynchronous: the replica must hold the entries before it stops receiving.
      await eventually(async () => (await entriesOn(replica)) === held, { what: 'the replica receiving the entries' });
      const replicaPid = await pidOf(replica);
      const masterPid = await pidOf(master);
      process.kill(replicaPid, 'SIGSTOP');
      stopped.push(replicaPid);
      // The replica lags: a 96 MB write fills the socket buffers between them (up to ~36 MB here),
      // so what the master writes next waits in its own output buffer, and dies with it.
      const direct = new Redis(master, '127.0.0.1');
      try {
        let lag = 0;
        while (!(await direct.set(`{lag-${lag}}`, '1').then(() => true, () => false))) lag++; // a slot of this master
        await direct.set(`{lag-${lag}}`, 'x'.repeat(96 * 1024 * 1024));
      } finally {
        direct.disconnect();
      }
      const error = await store.invalidate('doomed').then(() => undefined, (e: Error) => e);
      expect(error?.message).to.match(new RegExp(`reached 0 of the 1 replica\\(s\\) of Redis 127\\.0\\.0\\.1:${master} within replicaTimeout`));
      expect(store.pendingInvalidations).to.equal(1);

      // The master dies; its replica never got the invalidation: it still holds every entry the
      // master deleted (nothing can write to it before it takes over).
      process.kill(masterPid, 'SIGKILL');
      process.kill(replicaPid, 'SIGCONT');
      expect(await entriesOn(replica), 'the replica still holds what the invalidation deleted').to.equal(held);
      const promoter = new Redis(replica, '127.0.0.1');
      try {
        await promoter.call('CLUSTER', 'FAILOVER', 'TAKEOVER');
        await eventually(async () => (await promoter.info('replication')).includes('role:master'), { what: 'the replica taking over', every: 100 });
      } finally {
        promoter.disconnect();
      }
      // The retry runs on the process that now serves those buckets.
      await eventually(async () => {
        await store.flushInvalidations();
        return store.pendingInvalidations === 0;
      }, { what: 'the retry on the promoted replica', every: 100 });
      expect(await entriesOn(replica)).to.equal(0);
      const reader = new CleverStore({ cluster: cluster.nodes, sweepInterval: 0, namespace: 'crash', replicaTimeout: 2000 });
      try {
        expect(await reader.getMany(keys)).to.deep.equal(keys.map(() => undefined));
      } finally {
        await reader.disconnect();
      }
    } finally {
      await store.disconnect();
    }
  });
});

describe('Redis Cluster: used while its replicas are still in their first sync (a cluster of its own)', function () {
  this.timeout(120_000);
  let cluster: LocalCluster;
  // Each master waits 60 s before it streams its replica the first copy: the replicas stay syncing.
  before(async () => { cluster = await LocalCluster.start(6, 1, { waitForSync: false, serverArgs: ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '60'] }); });
  after(async () => { await cluster?.stop(); });

  it('invalidates at once: a replica that is not online is not waited for', async () => {
    const store = new CleverStore({ cluster: cluster.nodes, sweepInterval: 0, namespace: 'syncing' });
    const errors: Error[] = [];
    store.on('error', (e) => errors.push(e));
    try {
      const syncing = async () => (await Promise.all(cluster.ports.map((port) => info(port, 'replication'))))
        .filter((text) => /slave0:[^\r\n]*state=(?!online)/.test(text)).length;
      await eventually(async () => (await syncing()) === 3, { what: 'three replicas connected and syncing' });
      await store.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'v', ttl: { dependsOn: ['t'] } })));
      expect(await store.invalidate('t')).to.equal(50);
      expect(store.pendingInvalidations).to.equal(0);
      expect(errors).to.deep.equal([]);
      expect(await syncing()).to.equal(3); // still syncing: nothing waited for them
    } finally {
      await store.disconnect();
    }
  });
});
