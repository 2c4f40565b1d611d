import { expect } from 'chai';
import { Redis } from 'ioredis';
import { framePlain, headerText, unframe } from '../../lib/backends/redis/frame.js';
import { bucketPrefix } from '../../lib/backends/redis/layout.js';
import { defineScripts, entriesScript, registerScript, runScript, setScript } from '../../lib/backends/redis/scripts.js';
import type { WriteEntry } from '../../lib/backends/backend.js';
import { REDIS_URL, uniqueNamespace } from '../support/backends.js';

/** The value frame: built in TS (frame.ts) and Lua (edges.lua), read back by both. */
describe('Redis value frame: header build and parse', () => {
  let client: Redis;
  let p: string;
  before(async () => {
    client = new Redis(REDIS_URL);
    defineScripts(client);
    p = bucketPrefix(uniqueNamespace('frame'), 0);
    await runScript(client, registerScript, p, 1);
  });
  after(async () => {
    const keys = await client.keys(`${p.replace(/[*?[\]\\]/g, '\\$&')}*`);
    if (keys.length > 0) await client.unlink(keys);
    await client.quit();
  });

  const entry = (key: string, value: string, tags: string[]): WriteEntry => ({ key, value, ttl: undefined, deps: { tags, schemes: [] } });
  const write = async (entries: WriteEntry[]) => runScript(client, setScript, p, [[p, 1, entries]]);

  it('escapes the header\'s separators in tags, and only those', () => {
    expect(headerText(['a', 'b'])).to.equal('a\nb');
    expect(headerText(['50%', 'two\nlines', 'x\x02y', 'plain'])).to.equal('50%25\ntwo%0Alines\nx%02y\nplain');
    expect(headerText([])).to.equal('');
  });

  it('frames a plain value only when it could pass for a header, and unframes both', () => {
    expect(framePlain('v')).to.equal('v');
    expect(framePlain('\x01v')).to.equal('\x01\x02\x01v');
    for (const value of ['v', '', '\x01v', '\x01\x02', '\x02x', 'a\nb']) expect(unframe(framePlain(value)), JSON.stringify(value)).to.equal(value);
    expect(unframe('\x0112\nt:a\nt%02b\x02value\x02more')).to.equal('value\x02more');
  });

  it('round-trips through Redis: the Lua frame holds the TS header, its tags read back, its value unframed', async () => {
    const tags = ['t:plain', 't:50%', 't:two\nlines', 't:x\x02y', `t:${'é'.repeat(40)}`];
    const values = ['value', '\x01looks framed', '\x02', ''];
    expect(await write(values.map((v, i) => entry(`tagged${i}`, v, tags)))).to.deep.equal({ refused: false, written: values.map(() => true) });
    for (const [i, value] of values.entries()) {
      const raw = (await client.get(`${p}v:tagged${i}`))!;
      expect(raw.startsWith('\x01\n'), 'no expiry: empty indexedUntil').to.equal(true);
      expect(raw.slice(2, raw.indexOf('\x02'))).to.equal(headerText(tags));
      expect(unframe(raw)).to.equal(value);
    }
    // edges.lua parses the header (unescaping) to decide whether an entry still lists a tag.
    for (const tag of tags) expect((await runScript(client, entriesScript, p, [tag])).sort(), JSON.stringify(tag)).to.deep.equal(values.map((_, i) => `tagged${i}`).sort());
  });

  it('stores a value without tags as framePlain does, in Lua and in TS', async () => {
    const values = ['plain', '\x01starts like a header', '\x01\x02'];
    await write(values.map((v, i) => entry(`plain${i}`, v, [])));
    for (const [i, value] of values.entries()) {
      const raw = (await client.get(`${p}v:plain${i}`))!;
      expect(raw).to.equal(framePlain(value));
      expect(unframe(raw)).to.equal(value);
    }
  });
});
