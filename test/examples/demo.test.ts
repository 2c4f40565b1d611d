import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PG_URL, REDIS_URL } from '../support/services.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

// What each write must invalidate, entry by entry (the demo's table without its timings).
const expected = [
  ['rename ada', 2, '✗ · · · · · · ✗'],
  ["move 'Notes' from ada to linus (FK move)", 3, '· ✗ ✗ · · · · ✗'],
  ['publish every draft (bulk update)', 3, '· · ✗ ✗ · · · ✗'],
  ["tag 'Engines' out of 'history'", 2, '· · · · ✗ ✗ · ·'],
  ["tag 'Kernels' with 'history'", 1, '· · · · · ✗ · ·'],
  ['comment on Kernels', 1, '· · · · · · · ✗'],
  ['transaction: new post by ada, committed', 2, '· ✗ · · · · · ✗'],
  ['transaction: delete Engines, rolled back', 0, '· · · · · · · ·'],
] as const;

for (const [name, env] of [
  ['embedded store, SQLite', {}],
  ['Redis, PostgreSQL', { REDIS_URL, DATABASE_URL: PG_URL }],
] as const) {
  describe(`npm run demo (${name})`, function () {
    this.timeout(60_000);
    it('shows exactly the entries each write invalidates', async () => {
      const { stdout } = await run('npx', ['tsx', 'examples/demo.ts'], { cwd: root, env: { ...process.env, ...env } });
      for (const [write, removed, marks] of expected) {
        const line = stdout.split('\n').find((l) => l.startsWith(write));
        expect(line, write).to.not.equal(undefined);
        const cells = line!.slice(45).trim().split(/\s{2,}/);
        expect(Number(cells[1]), `${write}: removed`).to.equal(removed);
        expect(line!.endsWith(marks), `${write}: ${line}`).to.equal(true);
      }
      // The cached query: a miss where a write changed what it read, a hit everywhere else.
      const section = stdout.slice(stdout.indexOf('Caching queries:'));
      const calls = section.split('\n').filter((l) => /^ {2}(first call|again|after: )/.test(l)).map((l) => l.slice(54, 58).trim());
      expect(calls).to.deep.equal(['miss', 'hit', 'miss', 'hit', 'hit', 'hit', 'miss', 'hit']);
      expect(section).to.match(/entriesFor\(matching\(Post, \{ authorId: ada\.id \}\)\): \["author:ada:posts","q:Post:findAll:[\w-]{43}"\]/);
      expect(section).to.match(/entriesFor\(engines\): \[[^\]]*"author:ada:posts"[^\]]*"q:Post:findAll:[\w-]{43}"/);
      expect(section).to.include('Engines [systems & co]; Looms [history]');
    });
  });
}
