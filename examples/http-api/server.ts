// npm run example:http — the blog API on http://127.0.0.1:3000 (SQLite in memory and the
// embedded store, or DATABASE_URL / REDIS_URL). Try:
//   curl -i localhost:3000/authors/1/posts      (x-cache: miss, then hit)
//   curl -X PATCH -H 'content-type: application/json' -d '{"authorId":2}' localhost:3000/posts/1
//   curl -i localhost:3000/authors/1/posts      (miss again: post 1 moved to author 2)
import { Author, buildApp, Post } from './app.js';

const blog = await buildApp({ databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL });
const [ada, linus] = await Author.bulkCreate([{ name: 'Ada' }, { name: 'Linus' }]);
await Post.bulkCreate([
  { title: 'Engines', authorId: ada!.id, status: 'published' },
  { title: 'Notes', authorId: ada!.id, status: 'draft' },
  { title: 'Kernels', authorId: linus!.id, status: 'published' },
]);
const port = Number(process.env.PORT ?? 3000);
await blog.app.listen({ port, host: '127.0.0.1' });
console.log(`blog API on http://127.0.0.1:${port} (${blog.store.backendKind} cache, ${blog.sequelize.getDialect()})`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void blog.close().then(() => process.exit(0)); });
