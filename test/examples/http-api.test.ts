import { expect } from 'chai';
import { Author, buildApp, Post, type BlogApp } from '../../examples/http-api/app.js';
import { PG_URL, REDIS_URL } from '../support/services.js';

for (const [name, env] of [
  ['SQLite + memory store', {}],
  ['PostgreSQL + Redis', { databaseUrl: PG_URL, redisUrl: REDIS_URL }],
] as const) {
  describe(`example: the HTTP API (${name})`, function () {
    this.timeout(30_000);
    let blog: BlogApp;
    before(async () => {
      blog = await buildApp(env);
      await blog.store.clear();
      await Author.bulkCreate([{ name: 'Ada' }, { name: 'Linus' }]);
      await Post.bulkCreate([
        { title: 'Engines', authorId: 1, status: 'published' },
        { title: 'Notes', authorId: 1, status: 'draft' },
        { title: 'Kernels', authorId: 2, status: 'published' },
      ]);
    });
    after(async () => {
      await blog.store.clear();
      await blog.close();
    });

    const get = async (url: string) => {
      const response = await blog.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).to.equal(200);
      return { cache: response.headers['x-cache'], body: response.json() };
    };
    const cacheOf = async (url: string) => (await get(url)).cache;

    it('serves repeated reads from the cache', async () => {
      for (const url of ['/authors/1/posts', '/authors/2/posts', '/posts/published', '/posts/3', '/stats']) {
        expect(await cacheOf(url), url).to.equal('miss');
        expect(await cacheOf(url), url).to.equal('hit');
      }
    });

    it('moving a post to another author invalidates both authors\' lists and the post, nothing else', async () => {
      const moved = await blog.app.inject({ method: 'PATCH', url: '/posts/2', payload: { authorId: 2 } });
      expect(moved.statusCode).to.equal(200);
      expect(await get('/authors/1/posts')).to.deep.include({ cache: 'miss' });
      expect((await get('/authors/2/posts')).body.map((p: { title: string }) => p.title)).to.deep.equal(['Notes', 'Kernels']);
      expect(await cacheOf('/posts/3')).to.equal('hit');
      expect(await cacheOf('/posts/published')).to.equal('hit'); // a draft moved: the published set did not change
      expect(await cacheOf('/stats')).to.equal('miss'); // depends on the whole tables
    });

    it('a bulk update invalidates the published list; a new author only the whole-table stats', async () => {
      await cacheOf('/stats');
      const published = await blog.app.inject({ method: 'POST', url: '/posts/publish-all' });
      expect(published.json()).to.deep.equal({ published: 1 });
      expect((await get('/posts/published')).body).to.have.length(3);
      expect(await cacheOf('/posts/3')).to.equal('hit');
      await cacheOf('/stats');
      await blog.app.inject({ method: 'POST', url: '/authors', payload: { name: 'Grace' } });
      expect(await cacheOf('/stats')).to.equal('miss');
      expect(await cacheOf('/authors/1/posts')).to.equal('hit');
    });
  });
}
