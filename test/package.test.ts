import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const script = `
  const store = new m.CleverStore();
  await store.set('k', '"v"', { dependsOn: ['t', m.matching('posts', { id: 1 })] });
  console.log(await store.get('k'), await store.invalidate(m.matching('posts', { id: 1 })), await store.get('k'));
`;

// `npm test` builds before it runs mocha; these check what a user installs.
describe('the built package', function () {
  this.timeout(60_000);
  before(() => {
    expect(existsSync(`${root}dist/index.js`), 'dist/ is missing: run npm run build').to.equal(true);
  });

  it('loads as ESM and works without sequelize installed', async () => {
    const code = `const m = await import('keyv-clever'); ${script}`;
    const { stdout } = await run('node', ['--import', './test/package/no-sequelize-hook.mjs', '--input-type=module', '-e', code], { cwd: root });
    expect(stdout.trim()).to.equal('"v" 1 undefined');
  });

  it('loads as CommonJS and works without sequelize installed', async () => {
    const code = `const m = require('keyv-clever'); (async () => { ${script} })();`;
    const { stdout } = await run('node', ['--require', './test/package/no-sequelize.cjs', '-e', code], { cwd: root });
    expect(stdout.trim()).to.equal('"v" 1 undefined');
  });

  // One copy of the core behind both entries: the kind the subpath registers is the one the root's store compiles with.
  const subpath = `
    const sequelize = new Sequelize('sqlite::memory:', { logging: false });
    const Post = sequelize.define('Post', { title: DataTypes.STRING });
    await sequelize.sync();
    const keyv = new Keyv({ store: new m.CleverStore() });
    s.registerSequelizeHooks(sequelize, keyv);
    const post = await Post.create({ title: 'a' });
    keyv.on('error', (e) => console.log(e.message));
    await keyv.set('k', 1, { dependsOn: [post] });
    const before = await keyv.get('k');
    await post.update({ title: 'b' });
    console.log(typeof s.related, before, await keyv.get('k'));
    await sequelize.close();
  `;

  it('serves the Sequelize integration from keyv-clever/sequelize as ESM, sharing the root\'s core', async () => {
    const code = `const m = await import('keyv-clever'); const s = await import('keyv-clever/sequelize');
      const { Sequelize, DataTypes } = await import('sequelize'); const { default: Keyv } = await import('keyv'); ${subpath}`;
    const { stdout } = await run('node', ['--input-type=module', '-e', code], { cwd: root });
    expect(stdout.trim()).to.equal('function 1 undefined');
  });

  it('serves the Sequelize integration from keyv-clever/sequelize as CommonJS, sharing the root\'s core', async () => {
    const code = `const m = require('keyv-clever'); const s = require('keyv-clever/sequelize');
      const { Sequelize, DataTypes } = require('sequelize'); const { Keyv } = require('keyv'); (async () => { ${subpath} })();`;
    const { stdout } = await run('node', ['-e', code], { cwd: root });
    expect(stdout.trim()).to.equal('function 1 undefined');
  });

  it('registers nothing Sequelize-specific from the root: a model is no dependency until the subpath is loaded', async () => {
    const code = `const m = await import('keyv-clever'); const { Sequelize } = await import('sequelize');
      const Post = new Sequelize('sqlite::memory:', { logging: false }).define('Post', {});
      try { await new m.CleverStore().set('k', '1', { dependsOn: [Post] }); console.log('accepted'); }
      catch (e) { console.log(e instanceof m.BadDependencyError, e instanceof TypeError); }`;
    const { stdout } = await run('node', ['--input-type=module', '-e', code], { cwd: root });
    expect(stdout.trim()).to.equal('true true');
  });

  it('(the two guards above really hide sequelize)', async () => {
    const attempts = [
      ['--import', './test/package/no-sequelize-hook.mjs', '--input-type=module', '-e', "await import('sequelize')"],
      ['--require', './test/package/no-sequelize.cjs', '-e', "require('sequelize')"],
    ];
    for (const args of attempts) {
      const failure = await run('node', args, { cwd: root }).then(() => undefined, (error: { stderr: string }) => error.stderr);
      expect(failure).to.match(/Cannot find (package|module) 'sequelize'/);
    }
  });

  it('ships types that make keyv.set(key, value, { ttl, dependsOn }) type-check', async () => {
    await run('npx', ['tsc', '-p', 'test/package/tsconfig.json'], { cwd: root });
  });
});
