/**
 * Invalidating one tag that holds 1k / 10k / 100k entries: wall time, number of script calls and
 * the longest single script call, measured server-side with SLOWLOG (slowlog-log-slower-than 0
 * for the duration, then restored). Then, for 100k entries, the same per `invalidateBudget` (the
 * time after which one call stops), with a chunk large enough that the budget decides.
 *
 * Every entry depends on 3 tags, as in real use: the invalidated one ('big'), one of its own and
 * one shared by 100 entries, so the script must also remove each entry from two other indexes.
 * It runs on a redis-server of its own (started and stopped here), whose slowlog it may set.
 */
import { internalsOf } from '../lib/store/internal.js';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { CleverStore, matching, type CleverStoreOptions } from '../lib/index.js';
import { encodeValue } from '../lib/tags.js';
import { DEFAULTS } from '../lib/store/store.js';
import { Slowlog, median, percentile, printTable, unlinkMatching, type Cell } from './common.js';
import { PrivateRedis } from '../test/support/redis-server.js';

const NS = 'bench-inv';
/** The private redis-server run() starts: its slowlog settings are this bench's to change. */
let redisUrl = '';
const CLIENT = 'keyv-clever-bench-invalidate';
const SIZES = [1_000, 10_000, 100_000];
/** entries and value size of the big-value case: invalidation reads headers, not values */
const LARGE = { n: 1_000, bytes: 100_000 };
/** the bulk-update case: rows changed by one Model.update, each sent as its old and new image */
const BULK_ROWS = 2_000;
const BIG = 100_000;
const RUNS = 3; // per size below 100k
const RUNS_BIG = 2; // per variant at 100k
const { invalidateChunk: DEFAULT_CHUNK, invalidateBudget: DEFAULT_BUDGET } = DEFAULTS;
interface Variant { label: string; chunk: number; budget: number }
const VARIANTS: Variant[] = [
  { label: `defaults (${DEFAULT_CHUNK} entries, ${DEFAULT_BUDGET} ms)`, chunk: DEFAULT_CHUNK, budget: DEFAULT_BUDGET },
  ...[1, 2, 4, 8].map((budget) => ({ label: `budget ${budget} ms, chunk 2000`, chunk: 2000, budget })),
];
const TARGET_US = 10_000;
const WRITE_BATCH = 500;
const THRESHOLD_US = Number(process.env.SLOWLOG_THRESHOLD_US ?? 100);

/** Writes n entries depending on 'big', their own tag and a tag shared by 100 entries. */
async function populate(store: CleverStore, n: number, bodyBytes = 100): Promise<void> {
  const value = JSON.stringify({ value: { id: 0, title: 'an entry to be invalidated', body: 'x'.repeat(bodyBytes) }, expires: null });
  for (let i = 0; i < n; i += WRITE_BATCH) {
    const entries = Array.from({ length: Math.min(WRITE_BATCH, n - i) }, (_, j) => {
      const k = i + j;
      return { key: `e${k}`, value, ttl: { ttl: 3_600_000, dependsOn: ['big', `item:${k}`, `group:${k % (n / 100)}`] } };
    });
    const ok = await store.setMany(entries);
    if (ok.some((b) => !b)) throw new Error('populate: a write was refused');
  }
}

interface Result {
  n: number; ms: number; calls: number; maxUs: number; medianUs: number; p90Us: number; over: number; truncated: boolean;
}

/**
 * One measured invalidation on a store of its own: `fill` writes the entries, `invalidate` runs
 * the invalidation and returns how many it removed (checked against `expected`); the script
 * calls it made are read from SLOWLOG.
 */
async function measure(
  admin: Redis, slowlog: Slowlog, options: CleverStoreOptions, label: string, expected: number, maxLen: number,
  fill: (store: CleverStore) => Promise<void>, invalidate: (store: CleverStore) => Promise<number>,
): Promise<Result> {
  const store = new CleverStore(redisUrl, { namespace: NS, connectionName: CLIENT, sweepInterval: 0, ...options });
  store.on('error', (e) => console.error('CleverStore error:', e.message));
  try {
    await unlinkMatching(admin, `{${NS}:*`);
    await fill(store);
    await slowlog.enable(maxLen, THRESHOLD_US);
    try {
      await slowlog.reset();
      const t0 = performance.now();
      const removed = await invalidate(store);
      const ms = performance.now() - t0;
      const { calls, truncated } = await slowlog.scriptCalls(maxLen, CLIENT);
      const durations = calls.map((c) => c.micros).reverse(); // SLOWLOG GET lists newest first
      if (process.env.BENCH_DEBUG) console.log(`${label}: ${durations.join(' ')}`);
      if (removed !== expected) throw new Error(`${label}: removed ${removed}, expected ${expected}`);
      return {
        n: expected, ms, calls: calls.length, maxUs: Math.max(...durations), medianUs: median(durations), p90Us: percentile(durations, 90),
        over: durations.filter((d) => d > TARGET_US).length, truncated,
      };
    } finally {
      await slowlog.restore();
    }
  } finally {
    await unlinkMatching(admin, `{${NS}:*`).catch(() => undefined);
    await store.disconnect();
  }
}

/** invalidate('big') over n entries (see populate). */
function measureOnce(admin: Redis, slowlog: Slowlog, n: number, variant: Variant, bodyBytes?: number): Promise<Result> {
  // At threshold 0, Redis 7 also logs every command run inside the scripts (~6 per entry).
  const maxLen = THRESHOLD_US === 0 ? n * 7 + 10_000 : 10_000;
  return measure(admin, slowlog, { invalidateChunk: variant.chunk, invalidateBudget: variant.budget }, `n=${n} ${variant.label}`, n, maxLen,
    (store) => populate(store, n, bodyBytes), (store) => store.invalidate('big'));
}

/**
 * A bulk update of BULK_ROWS rows as the Sequelize hooks send it (old and new image per row) on a
 * table whose entries use 2 schemes: one entry per row (by id) and one per author (by authorId).
 */
function measureRows(admin: Redis, slowlog: Slowlog): Promise<Result> {
  const value = (v: unknown) => encodeValue(v, () => 'bench row');
  const rows = Array.from({ length: BULK_ROWS }, (_, i) => [0, 1].map((version) => ({
    table: 'posts', values: { id: value(i), authorId: value(i % 100), title: value(`title ${i} v${version}`) },
  }))).flat();
  return measure(admin, slowlog, {}, `update of ${BULK_ROWS} rows`, BULK_ROWS + 100, 10_000, async (store) => {
    for (let i = 0; i < BULK_ROWS; i += WRITE_BATCH) {
      await store.setMany(Array.from({ length: WRITE_BATCH }, (_, j) => ({ key: `post${i + j}`, value: 'v', ttl: { dependsOn: [matching('posts', { id: i + j })] } })));
    }
    for (let a = 0; a < 100; a++) await store.set(`author${a}`, 'v', { dependsOn: [matching('posts', { authorId: a })] });
  }, (store) => internalsOf(store)!.invalidateRequest({ tags: [], rows }));
}

/** Best (lowest) figures over several runs: background load only ever adds time. */
function best(results: Result[]): Result {
  return {
    ...results[0]!,
    ms: Math.min(...results.map((r) => r.ms)),
    maxUs: Math.min(...results.map((r) => r.maxUs)),
    medianUs: Math.min(...results.map((r) => r.medianUs)),
    p90Us: Math.min(...results.map((r) => r.p90Us)),
    over: Math.min(...results.map((r) => r.over)),
    truncated: results.some((r) => r.truncated),
  };
}

function row(r: Result, label: string, runs: Result[]): Cell[] {
  return [label, r.calls, r.ms.toFixed(0), Math.round(r.n / (r.ms / 1000)), Math.round(r.medianUs), Math.round(r.p90Us), Math.round(r.maxUs),
    runs.map((x) => Math.round(x.maxUs)).join('/'), `${r.over}/${r.calls}`, r.maxUs <= TARGET_US ? 'yes' : 'NO'];
}

export default async function run(): Promise<void> {
  const server = await PrivateRedis.start();
  redisUrl = server.url;
  const admin = new Redis(redisUrl, { connectionName: 'keyv-clever-bench-invalidate-admin' });
  const slowlog = new Slowlog(admin);
  try {
    // 1k and 10k with the defaults, 3 runs each.
    const rows: Cell[][] = [];
    for (const n of SIZES.filter((s) => s < BIG)) {
      const runs: Result[] = [];
      for (let r = 0; r < RUNS; r++) runs.push(await measureOnce(admin, slowlog, n, VARIANTS[0]!));
      rows.push(row(best(runs), `${n.toLocaleString('en-US')} entries`, runs));
    }
    const large: Result[] = [];
    for (let r = 0; r < RUNS; r++) large.push(await measureOnce(admin, slowlog, LARGE.n, VARIANTS[0]!, LARGE.bytes));
    const bulk: Result[] = [];
    for (let r = 0; r < RUNS; r++) bulk.push(await measureRows(admin, slowlog));
    // 100k per variant, RUNS_BIG rounds with the variants in alternating order so load drifts hit them alike.
    const byVariant = new Map<Variant, Result[]>(VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < RUNS_BIG; r++) {
      for (const v of r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) byVariant.get(v)!.push(await measureOnce(admin, slowlog, BIG, v));
    }
    rows.push(row(best(byVariant.get(VARIANTS[0]!)!), `${BIG.toLocaleString('en-US')} entries`, byVariant.get(VARIANTS[0]!)!));
    rows.push(row(best(large), `${LARGE.n.toLocaleString('en-US')} of ${LARGE.bytes / 1000} KB`, large));
    rows.push(row(best(bulk), `update of ${BULK_ROWS.toLocaleString('en-US')} rows`, bulk));

    const header = ['case', 'script calls', 'total ms', 'entries/s', 'median call µs', 'p90 call µs', 'max call µs', 'max per run µs',
      `calls > ${TARGET_US / 1000} ms`, `max <= ${TARGET_US / 1000} ms`];
    const notes = [
      `best of ${RUNS} runs (${RUNS_BIG} at ${BIG.toLocaleString('en-US')}) per figure (background load only adds time); each entry depends on [big, item:<k>, group:<k % (n/100)>].`,
      `Values ~170 B, ${LARGE.bytes / 1000} KB in the '${LARGE.n.toLocaleString('en-US')} of' row: the script reads each entry's header (GETRANGE), never the whole value.`,
      `update of ${BULK_ROWS.toLocaleString('en-US')} rows: an invalidation by changed rows as a bulk Model.update sends it (old + new image of each row,`,
      `${(2 * BULK_ROWS).toLocaleString('en-US')} images) on a table cached by id and by authorId (2 schemes): ${BULK_ROWS.toLocaleString('en-US')} + 100 entries; the script turns rows into tags`,
      'until its deadline too, and the client sends at most 200 rows per call.',
      `Call durations: server-side, SLOWLOG (slowlog-log-slower-than ${THRESHOLD_US} µs: all script calls are longer; Redis 7 also logs`,
      'every command run inside a script, so 0 would need ~6 log entries per entry); EVALSHA/EVAL of this store\'s connection only.',
      'total ms = client wall time of store.invalidate(); Redis shares the machine\'s 2 cores with this process and other tests.',
    ];
    printTable(`invalidate('big') with the defaults (invalidateChunk ${DEFAULT_CHUNK}, invalidateBudget ${DEFAULT_BUDGET} ms)`, header, rows, notes);

    const variantRows = VARIANTS.map((v) => row(best(byVariant.get(v)!), v.label, byVariant.get(v)!));
    printTable(`invalidate('big') of ${BIG.toLocaleString('en-US')} entries per invalidateBudget`, header, variantRows, [
      'A call stops between slices of 10 entries once it has run for the budget, or after the chunk: the budget bounds each call',
      'whatever an entry costs; a call still runs longer when Redis waits for a core meanwhile (wall time).',
    ]);
    if ([...byVariant.values()].flat().some((r) => r.truncated)) console.log('  warning: the slowlog filled up during a run (other clients busy); call counts may be low');
  } finally {
    await slowlog.restore().catch(() => undefined);
    await unlinkMatching(admin, `{${NS}:*`).catch(() => undefined);
    admin.disconnect();
    await server.stop();
  }
}
