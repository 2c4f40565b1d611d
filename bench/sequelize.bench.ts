/**
 * Sequelize write overhead of registerSequelizeHooks with a Redis-backed store: the same writes
 * with the hooks registered and without, measured side by side in alternating rounds in one
 * process (the hooks are registered / unregistered between rounds). PostgreSQL carries the
 * targets; MariaDB and SQLite (in memory) are reported alike, with fewer rounds.
 *
 * - instance.save() of one changed row
 * - Model.create
 * - Model.update of 1 row (by primary key) and of 1000 rows (by a foreign key)
 * - a transaction of 10 instance.save()
 *
 * With the hooks, every write also invalidates in Redis before its promise resolves (one script
 * call); an update or a save first reads the rows it changes, locked, at the write (one SELECT
 * in the same transaction; an autocommit write is wrapped in one, and so also ends with COMMIT).
 * The `statements` columns count the database statements per write on each side (the cost in
 * round trips the locked read adds), counted in a short pass apart from the timed rounds.
 * The store holds 3,000 entries over the three schemes a blog would use (post by id, posts by
 * author, posts by status), so invalidation builds real conjunction tags.
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), MARIADB_URL and REDIS_URL (db 3)
 * can be set.
 */
import { performance } from 'node:perf_hooks';
import Keyv from 'keyv';
import type { Sequelize } from 'sequelize';
import type { CleverStore as Store } from '../lib/index.js';
import type { SequelizeHooks, SequelizeHooksOptions } from '../lib/sequelize/index.js';
import { closeSequelize, openSequelize, type Dialect } from '../test/support/sequelize.js';
import { REDIS_URL, alternate, latencies, median, percentile, printTable, ratio, type Cell, type Op } from './common.js';
import { defineBlog } from './blog.js';
import { pkg, pkgSequelize } from './package.js';

const { CleverStore, matching } = pkg;
const { registerSequelizeHooks, related } = pkgSequelize;

const ROUND_MS = 150; // per operation, per round
const BULK_ROWS = 1000;
const AUTHORS = 100;
const POSTS = 2000;
const COUNTED = 20; // writes per side in the pass that counts statements

/** Alternating rounds per side (short rounds: bursty background load hits both sides alike); targets on PostgreSQL only. */
const DIALECTS: Array<{ dialect: Dialect; name: string; rounds: number; targets: boolean }> = [
  { dialect: 'postgres', name: 'PostgreSQL', rounds: 30, targets: true },
  { dialect: 'mariadb', name: 'MariaDB', rounds: 12, targets: false },
  { dialect: 'sqlite', name: 'SQLite (in memory)', rounds: 12, targets: false },
];

// Targets (hooks on/off, at most): single-row writes 1.25x, a transaction of 10 saves 1.2x, the 1000-row update 3x.
const TARGETS: Record<string, number> = {
  'instance.save() (1 row)': 1.25, 'Model.create': 1.25, 'Model.update, 1 row': 1.25,
  [`Model.update, ${BULK_ROWS} rows`]: 3, 'transaction of 10 instance.save()': 1.2,
};

export default async function run(): Promise<void> {
  const store = new CleverStore(REDIS_URL, { sweepInterval: 0 });
  try {
    for (const { dialect, name, rounds, targets } of DIALECTS) await runOn(store, dialect, name, rounds, targets);
    // The floor of an awaited invalidation: one Redis round trip, measured on the store's connection.
    const client = store.client!;
    const rtts: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      await client.ping();
      rtts.push((performance.now() - t0) * 1000);
    }
    console.log(`\n  one Redis round trip (PING) on this machine: ${(median(rtts) / 1000).toFixed(3)} ms median`);
  } finally {
    await store.disconnect();
  }
}

async function runOn(store: Store, dialect: Dialect, name: string, rounds: number, withTargets: boolean): Promise<void> {
  const sequelize = await openSequelize(dialect);
  const keyv = new Keyv({ store, namespace: `bench-sequelize-${dialect}-${process.pid}` });
  let hooks: SequelizeHooks | undefined;
  try {
    const { Author, Post } = defineBlog(sequelize);
    await sequelize.sync();
    const authors = await Author.bulkCreate(Array.from({ length: AUTHORS + 1 }, (_, i) => ({ name: `author ${i}` })));
    const bulkAuthor = authors[AUTHORS]!; // owns exactly BULK_ROWS posts
    await Post.bulkCreate(Array.from({ length: POSTS }, (_, i) => ({ title: `post ${i}`, authorId: authors[i % AUTHORS]!.get('id'), status: i % 2 ? 'published' : 'draft' })));
    await Post.bulkCreate(Array.from({ length: BULK_ROWS }, (_, i) => ({ title: `bulk ${i}`, authorId: bulkAuthor.get('id') })));
    const posts = await Post.findAll({ where: { authorId: authors.slice(0, AUTHORS).map((a) => a.get('id') as number) }, order: [['id', 'ASC']] });

    // Cached entries on three schemes: post by id, posts by author, posts by status.
    await keyv.clear();
    const fill = async () => {
      await keyv.setMany(posts.slice(0, 1000).map((p, i) => ({ key: `post:${i}`, value: 'v', ttl: { dependsOn: [p] } })));
      await keyv.setMany(authors.map((a, i) => ({ key: `author:${i}:posts`, value: 'v', ttl: { dependsOn: [related(a, 'posts')] } })));
      await keyv.set('published', 'v', { dependsOn: [matching(Post, { status: 'published' })] });
    };
    await fill();

    const target = posts[0]!;
    const batch = posts.slice(600, 610);
    const ops: Array<[string, Op, SequelizeHooksOptions?]> = [
      ['instance.save() (1 row)', async (i) => {
        target.set('title', `saved ${i}`);
        await target.save();
      }],
      ['Model.create', async (i) => Post.create({ title: `created ${i}`, authorId: authors[i % AUTHORS]!.get('id') })],
      ['Model.update, 1 row', async (i) => Post.update({ views: i }, { where: { id: posts[1 + (i % 500)]!.get('id') } })],
      ['Model.update, 1 row (prequeryLimit: 0)', async (i) => Post.update({ views: i }, { where: { id: posts[1 + (i % 500)]!.get('id') } }), { prequeryLimit: 0 }],
      [`Model.update, ${BULK_ROWS} rows`, async (i) => Post.update({ views: i }, { where: { authorId: bulkAuthor.get('id') } })],
      ['transaction of 10 instance.save()', async (i) => sequelize.transaction(async (transaction) => {
        for (const p of batch) {
          p.set('views', i);
          await p.save({ transaction });
        }
      })],
    ];

    const rows: Cell[][] = [];
    let counter = 0;
    for (const [label, op, hookOptions] of ops) {
      const ms = label.includes(`${BULK_ROWS} rows`) || label.startsWith('transaction') ? ROUND_MS * 2 : ROUND_MS;
      const withHooks = async <T>(on: boolean, body: () => Promise<T>): Promise<T> => {
        if (on) hooks = registerSequelizeHooks(sequelize, keyv, hookOptions);
        try {
          return await body();
        } finally {
          hooks?.unregister();
          hooks = undefined;
          if (on) await fill(); // the writes invalidated entries: put them back for the next round
        }
      };
      const side = (on: boolean) => () => withHooks(on, async () => {
        const lat = await latencies(op, ms, counter);
        counter += lat.length;
        return lat;
      });
      const [off, on] = await alternate([side(false), side(true)], rounds, [side(false), side(true)]) as [number[][], number[][]];
      const [offStatements, onStatements] = [
        await withHooks(false, () => statementsPerWrite(sequelize, op, counter)),
        await withHooks(true, () => statementsPerWrite(sequelize, op, counter)),
      ];
      counter += 2 * COUNTED;
      const offMedian = median(off.map(median));
      const onMedian = median(on.map(median));
      const allOff = off.flat();
      const allOn = on.flat();
      const target = withTargets ? TARGETS[label] : undefined;
      rows.push([label, (offMedian / 1000).toFixed(3), (onMedian / 1000).toFixed(3), ratio(onMedian / offMedian),
        (percentile(allOff, 95) / 1000).toFixed(3), (percentile(allOn, 95) / 1000).toFixed(3), allOff.length + allOn.length,
        offStatements, onStatements, target ? `<= ${target}x` : '-', target ? (onMedian / offMedian <= target ? 'yes' : 'NO') : '-']);
    }
    printTable(
      `Sequelize write overhead on ${name}, hooks on vs off (Redis store), sequential, median of per-round medians`,
      ['write', 'off ms', 'on ms', 'on/off', 'off p95 ms', 'on p95 ms', 'writes', 'off stmts', 'on stmts', 'target', 'met'],
      rows,
      [
        `${rounds} alternating rounds per side (${ROUND_MS} ms each; ${ROUND_MS * 2} ms for the ${BULK_ROWS}-row update and the transaction), one write in flight`,
        'prequeryLimit: 0 = no pre-query: the where\'s equalities and the new values, other schemes of the table fall back to all their entries',
        'transaction: one invalidation at commit for the 10 writes',
        'on = the write + its locked read of the rows it changes + its invalidation in Redis (awaited before the write resolves)',
        'stmts = database statements per write (a multi-statement query counts once; MariaDB\'s START TRANSACTION goes in one round trip with the read)',
      ],
    );
  } finally {
    hooks?.unregister();
    await keyv.clear().catch(() => undefined);
    await closeSequelize(sequelize);
  }
}

/** Database statements per write of `op` (every statement Sequelize or the hooks log), over COUNTED writes. */
async function statementsPerWrite(sequelize: Sequelize, op: Op, start: number): Promise<string> {
  let statements = 0;
  const { options } = sequelize as unknown as { options: { logging?: unknown } };
  const logging = options.logging;
  options.logging = () => { statements++; };
  try {
    for (let i = 0; i < COUNTED; i++) await op(start + i);
  } finally {
    options.logging = logging;
  }
  return (statements / COUNTED).toFixed(1);
}
