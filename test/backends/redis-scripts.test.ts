import { expect } from 'chai';
import { Redis } from 'ioredis';
import { bucketPrefix } from '../../lib/backends/redis/layout.js';
import {
  captureScript, defineScripts, deleteScript, encodeRow, entriesScript, invalidateScript, mgetScript, registerScript, runScript,
  setScript, sweepScript, unlockScript,
} from '../../lib/backends/redis/scripts.js';
import type { WriteEntry } from '../../lib/backends/backend.js';
import type { Invalidation } from '../../lib/dependencies.js';
import { REDIS_URL, sleep, uniqueNamespace } from '../support/backends.js';

/** Each script's encoder and decoder (scripts.ts) against the script itself, on a real Redis. */
describe('Redis scripts: typed arguments and replies', () => {
  let client: Redis;
  let ns: string;
  let p0: string;
  let p1: string;
  const write = (entry: Partial<WriteEntry> & { key: string }): WriteEntry => ({ value: 'v', ttl: undefined, deps: { tags: [], schemes: [] }, ...entry });
  beforeEach(async () => {
    client = new Redis(REDIS_URL);
    defineScripts(client);
    ns = uniqueNamespace('scripts');
    [p0, p1] = [bucketPrefix(ns, 0), bucketPrefix(ns, 1)];
    expect(await runScript(client, registerScript, p0, 2)).to.equal(2);
    await client.set(`${p1}m:`, 2);
  });
  afterEach(async () => {
    const keys = await client.keys(`{${ns}:*`);
    if (keys.length > 0) await client.unlink(keys);
    await client.quit();
  });

  it('register: records the first count proposed and answers the recorded one', async () => {
    expect(registerScript.encode(5)).to.deep.equal([5]);
    expect(await runScript(client, registerScript, p0, 5)).to.equal(2);
  });

  it('set: lays out groups, entries, tags, header, schemes, guards and unlock; reads written flags or a refusal', async () => {
    const guarded = write({ key: 'g', deps: { tags: ['t:a'], schemes: [] }, guards: [['t:a', 1]] });
    const full = write({ key: 'k', value: 'x', ttl: 5000, deps: { tags: ['t:a', 'c:b'], schemes: [['posts', 'id']] }, guards: [['t:a', 0]], unlock: 'tok' });
    expect(setScript.encode([[p0, 2, [full]], [p1, 2, [guarded]]])).to.deep.equal([
      2, p0, 2, p1, 2,
      1, 'f', 1, 'k', 'x', 5000, 2, 't:a\nc:b', 1, 'posts', 'id', 1, 't:a', 0, 'tok',
      1, 'f', 1, 'g', 'v', 0, 1, 't:a', 0, 1, 't:a', 1, '',
    ]);
    await client.set(`${p0}l:k`, 'tok');
    expect(await runScript(client, setScript, p0, [[p0, 2, [full]], [p1, 2, [guarded]]])).to.deep.equal({ refused: false, written: [true, false] });
    expect(await client.exists(`${p0}l:k`), 'the fill lock went with the write').to.equal(0);
    expect(await client.smembers(`${p0}s:posts`)).to.deep.equal(['id']);
    expect(await client.pttl(`${p0}v:k`)).to.be.within(1, 5000);
    expect(await runScript(client, setScript, p0, [[p0, 3, [write({ key: 'z' })]]])).to.deep.equal({ refused: true, recorded: 2 });
  });

  it('set: entries go as runs of one kind, in the order given, so a later write of a key wins', async () => {
    const plain = (value: string) => write({ key: 'k', value, ttl: 5000 });
    const tagged = (value: string) => write({ key: 'k', value, deps: { tags: ['t:a', 't:b'], schemes: [] } });
    const entries = [plain('1'), plain('2'), tagged('3'), write({ key: 'k', value: '4', unlock: 'tok' }), plain('5')];
    expect(setScript.encode([[p0, 2, entries]])).to.deep.equal([
      1, p0, 2,
      4, 'p', 2, 'k', '1', 5000, 'k', '2', 5000,
      't', 1, 'k', '3', 0, 't:a\nt:b',
      'f', 1, 'k', '4', 0, 0, 0, 0, 'tok',
      'p', 1, 'k', '5', 5000,
    ]);
    expect(await runScript(client, setScript, p0, [[p0, 2, entries]])).to.deep.equal({ refused: false, written: [true, true, true, true, true] });
    expect(await client.get(`${p0}v:k`)).to.equal('5');
    // The tagged write in between indexed the key under each of its tags.
    for (const tag of ['t:a', 't:b']) expect(await runScript(client, entriesScript, p0, [tag]), tag).to.deep.equal([]);
    await runScript(client, setScript, p0, [[p0, 2, [tagged('6')]]]);
    for (const tag of ['t:a', 't:b']) expect(await runScript(client, entriesScript, p0, [tag]), tag).to.deep.equal(['k']);
  });

  it('mget: per bucket, its number of keys then the keys; the values in order', async () => {
    await client.set(`${p0}v:a`, 'A');
    await client.set(`${p1}v:c`, 'C');
    const buckets = [{ gets: [{ key: `${p0}v:a` }, { key: `${p0}v:b` }] }, { gets: [{ key: `${p1}v:c` }] }];
    expect(mgetScript.encode(buckets)).to.deep.equal([2, `${p0}v:a`, `${p0}v:b`, 1, `${p1}v:c`]);
    expect(await runScript(client, mgetScript, `${p0}v:a`, buckets)).to.deep.equal(['A', null, 'C']);
  });

  it('delete: the keys; reads how many existed and the bucket\'s recorded count', async () => {
    await runScript(client, setScript, p0, [[p0, 2, [write({ key: 'a', deps: { tags: ['t:x'], schemes: [] } })]]]);
    expect(deleteScript.encode(['a', 'missing'])).to.deep.equal(['a', 'missing']);
    expect(await runScript(client, deleteScript, p0, ['a', 'missing'])).to.deep.equal({ removed: 1, recorded: 2 });
    expect(await runScript(client, entriesScript, p0, ['t:x'])).to.deep.equal([]);
  });

  it('capture and unlock: key, lock and schemes then tags; a value, or the lock taken and the generations', async () => {
    const input = { key: 'k', lock: { token: 'tok', ttl: 5000 }, schemes: [['posts', 'id']] as Array<[string, string]>, tags: ['t:a', 't:b'] };
    expect(captureScript.encode(input)).to.deep.equal(['k', 'tok', 5000, '', 1, 'posts', 'id', 't:a', 't:b']);
    expect(captureScript.encode({ ...input, lock: undefined })).to.deep.equal(['k', '', 0, '', 1, 'posts', 'id', 't:a', 't:b']);
    expect(captureScript.encode({ ...input, skipValue: true })).to.deep.equal(['k', 'tok', 5000, '1', 1, 'posts', 'id', 't:a', 't:b']);
    await client.set(`${p0}g:t:b`, 7);
    expect(await runScript(client, captureScript, p0, input)).to.deep.equal({ kind: 'miss', locked: true, generations: [0, 7] });
    expect(await runScript(client, captureScript, p0, { ...input, lock: { token: 'other', ttl: 5000 } })).to.deep.equal({ kind: 'miss', locked: false, generations: [0, 7] });
    expect(await client.smembers(`${p0}s:posts`)).to.deep.equal(['id']);
    expect(unlockScript.encode({ key: 'k', token: 'tok' })).to.deep.equal(['k', 'tok']);
    expect(await runScript(client, unlockScript, p0, { key: 'k', token: 'other' })).to.equal(false);
    expect(await runScript(client, unlockScript, p0, { key: 'k', token: 'tok' })).to.equal(true);
    await client.set(`${p0}v:k`, '\x01\nt:a\x02value');
    expect(await runScript(client, captureScript, p0, input)).to.deep.equal({ kind: 'value', value: 'value' });
    // A value kept past its freshness for grace counts as missing when the caller says so.
    expect(await runScript(client, captureScript, p0, { ...input, lock: undefined, skipValue: true })).to.deep.equal({ kind: 'miss', locked: true, generations: [0, 7] });
  });

  it('entries: the tags; the live keys that still list them', async () => {
    await runScript(client, setScript, p0, [[p0, 2, ['a', 'b'].map((key) => write({ key, deps: { tags: ['t:x', 't:y'], schemes: [] } }))]]);
    expect(entriesScript.encode(['t:x', 't:y'])).to.deep.equal(['t:x', 't:y']);
    expect((await runScript(client, entriesScript, p0, ['t:x', 't:y'])).sort()).to.deep.equal(['a', 'b']);
  });

  it('invalidate: limits, tags and rows; reads removed, recorded count, rows done, replicas and the tags left', async () => {
    const rows = ([{ table: 'po|sts', values: { id: '1', title: 'x' } }, { table: 'users', values: {} }] as Invalidation['rows']).map(encodeRow);
    expect(rows).to.deep.equal([['po%7Csts', 2, 'id', '1', 'title', 'x'], ['users', 0]]);
    expect(invalidateScript.encode({ limit: 10, budget: 50, raceWindow: 1000, tags: ['t:a'], rows })).to.deep.equal([
      10, 50, 1000, 1, 't:a', 0, 2, 'po%7Csts', 2, 'id', '1', 'title', 'x', 'users', 0,
    ]);
    expect(invalidateScript.encode({ limit: 10, budget: 50, raceWindow: 1000, tags: [], cut: [['po%7Csts', ['id', 'title']]], rows })).to.deep.equal([
      10, 50, 1000, 0, 1, 'po%7Csts', 2, 'id', 'title', 2, 'po%7Csts', 2, 'id', '1', 'title', 'x', 'users', 0,
    ]);
    await runScript(client, captureScript, p0, { key: 'k', lock: undefined, schemes: [['po%7Csts', 'id']], tags: [] });
    const entries = ['a', 'b', 'c'].map((key) => write({ key, deps: { tags: ['c:po%7Csts|id=1', 'u:all'], schemes: [] } }));
    await runScript(client, setScript, p0, [[p0, 2, entries]]);
    // A limit of 2 on a tag too big for one call leaves it for the next one.
    const big = Array.from({ length: 300 }, (_, i) => write({ key: `big${i}`, deps: { tags: ['u:big'], schemes: [] } }));
    await runScript(client, setScript, p0, [[p0, 2, big]]);
    const first = await runScript(client, invalidateScript, p0, { limit: 2, budget: 1000, raceWindow: 1000, tags: ['u:big'], rows: [] });
    expect(first).to.deep.equal({ removed: 2, recorded: 2, rowsDone: 0, replicas: first.replicas, tags: ['u:big'] });
    expect(first.replicas).to.be.a('number');
    const reply = await runScript(client, invalidateScript, p0, { limit: 100, budget: 1000, raceWindow: 1000, tags: [], rows });
    expect(reply).to.deep.include({ removed: 3, recorded: 2, rowsDone: 2, tags: [] });
    expect(await client.get(`${p0}g:c:po%7Csts|id=1`)).to.equal('1');
  });

  it('invalidate: a call past its deadline stops after one slice of 10 entries', async () => {
    const big = Array.from({ length: 100 }, (_, i) => write({ key: `big${i}`, deps: { tags: ['u:big'], schemes: [] } }));
    await runScript(client, setScript, p0, [[p0, 2, big]]);
    // A budget of 0: the deadline has passed at the first check, after the first slice.
    const reply = await runScript(client, invalidateScript, p0, { limit: 1000, budget: 0, raceWindow: 1000, tags: ['u:big'], rows: [] });
    expect(reply).to.deep.include({ removed: 10, tags: ['u:big'] });
  });

  it('invalidate: a call past its deadline still removes every entry of a tag kept in a page', async () => {
    // 14 short keys still fit in a page (64 bytes): more than a slice, and the page entry goes whole.
    const small = Array.from({ length: 14 }, (_, i) => write({ key: `k${i}`, deps: { tags: ['u:small'], schemes: [] } }));
    await runScript(client, setScript, p0, [[p0, 2, small]]);
    expect(await client.exists(`${p0}i:u:small`)).to.equal(0);
    const reply = await runScript(client, invalidateScript, p0, { limit: 1000, budget: 0, raceWindow: 1000, tags: ['u:small'], rows: [] });
    expect(reply).to.deep.include({ removed: 14, tags: [] });
    expect(await client.exists(small.map((e) => `${p0}v:${e.key}`))).to.equal(0);
  });

  it('invalidate: rows cut down to fields no scheme in use goes beyond; refused, with nothing done, when one does', async () => {
    await runScript(client, captureScript, p0, { key: 'k', lock: undefined, schemes: [['posts', 'id'], ['posts', 'authorId&status']], tags: [] });
    const entries = ['a', 'b'].map((key, i) => write({ key, deps: { tags: [`c:posts|id=n${i + 1}`], schemes: [] } }));
    await runScript(client, setScript, p0, [[p0, 2, entries]]);
    const rows = [encodeRow({ table: 'posts', values: { id: 'n1', authorId: 'n7', status: 'sx' } })];
    const cut = [['posts', ['id', 'authorId', 'status']]] as const;
    expect(await runScript(client, invalidateScript, p0, { limit: 100, budget: 1000, raceWindow: 1000, tags: [], cut, rows })).to.deep.include({ removed: 1, rowsDone: 1 });
    // A scheme naming a field the rows were cut without: no tag of the call is done, not even the ones given.
    await runScript(client, captureScript, p0, { key: 'k', lock: undefined, schemes: [['posts', 'title']], tags: [] });
    const refused = await runScript(client, invalidateScript, p0, { limit: 100, budget: 1000, raceWindow: 1000, tags: ['c:posts|id=n2'], cut, rows });
    expect(refused).to.deep.equal({ removed: 0, recorded: 2, rowsDone: -1, replicas: 0, tags: [] });
    expect(await client.exists(`${p0}v:b`)).to.equal(1);
    expect(await client.exists(`${p0}g:c:posts|id=n2`)).to.equal(0);
  });

  it('sweep: sorted-set tags then page numbers; reads how many members it pruned', async () => {
    expect(sweepScript.encode({ sorted: ['t:a', 't:b'], pages: ['3'] })).to.deep.equal([2, 't:a', 't:b', '3']);
    const long = `t:${'x'.repeat(80)}`; // too long for a page: a sorted set
    await runScript(client, setScript, p0, [[p0, 2, ['a', 'b'].map((key) => write({ key, ttl: 1, deps: { tags: [long, 't:short'], schemes: [] } }))]]);
    await sleep(20);
    const pages = (await client.keys(`{${ns}:0}p:*`)).map((k) => k.slice(k.lastIndexOf(':') + 1));
    expect(pages).to.have.length(1);
    expect(await runScript(client, sweepScript, p0, { sorted: [long], pages })).to.equal(4);
  });
});
