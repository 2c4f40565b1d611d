/**
 * Shared helpers of the benchmarks (not a benchmark itself: only `*.bench.ts` files are run).
 * Every comparison runs its sides in alternating rounds within one process so that background
 * load on the machine hits both sides alike; results are medians (or best) over the rounds.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';

import { BENCH_REDIS_URL } from '../test/support/services.js';

/** db 3 by default: the benchmarks own it and never touch another db. */
export const REDIS_URL = BENCH_REDIS_URL;

/** A plain ioredis connection for setup, cleanup and server introspection. */
export function adminClient(name = 'keyv-clever-bench-admin'): Redis {
  return new Redis(REDIS_URL, { connectionName: name, lazyConnect: false, maxRetriesPerRequest: 3 });
}

/** UNLINKs every key matching a glob pattern (SCAN, never KEYS). Returns how many went. */
export async function unlinkMatching(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) removed += await redis.unlink(...keys);
  } while (cursor !== '0');
  return removed;
}

/** Every key matching a glob pattern. */
export async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Thousands separators, no decimals (or `digits` decimals). */
export function num(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}x` : String(n);
}

export type Op = (i: number) => Promise<unknown>;

/**
 * Runs `op` from `workers` concurrent async loops for `ms` milliseconds and returns ops/s.
 * `i` is a global operation counter, handy to pick keys.
 */
export async function throughput(op: Op, workers: number, ms: number): Promise<number> {
  let next = 0;
  let done = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < end) {
      await op(next++);
      done++;
    }
  }));
  return done / ((performance.now() - start) / 1000);
}

/**
 * Runs `op` sequentially (one in flight) for `ms` milliseconds, numbering the calls from `start`;
 * returns each op's latency in µs.
 */
export async function latencies(op: Op, ms: number, start = 0): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + ms;
  let i = start;
  while (performance.now() < end) {
    const t0 = performance.now();
    await op(i++);
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

/**
 * Measures two or more sides in alternating rounds (A B, B A, A B, ...), after one short warm-up
 * per side, and returns every round's figure per side.
 */
export async function alternate<T>(sides: ReadonlyArray<() => Promise<T>>, rounds: number, warmup?: ReadonlyArray<() => Promise<unknown>>): Promise<T[][]> {
  for (const w of warmup ?? []) await w();
  const out: T[][] = sides.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const order = sides.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) out[i]!.push(await sides[i]!());
  }
  return out;
}

export type Cell = string | number;

/**
 * Prints an aligned table: first column left-aligned, the others right-aligned.
 * Numbers are printed with thousands separators.
 */
export function printTable(title: string, header: readonly string[], rows: ReadonlyArray<readonly Cell[]>, notes: readonly string[] = []): void {
  const text = rows.map((r) => r.map((c) => (typeof c === 'number' ? num(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [`\n${title}`, line(header), rule, ...text.map(line), ...notes.map((n) => `  ${n}`)];
  console.log(out.join('\n'));
}

/** A JSON-ish value of realistic size (~250 bytes serialized), different per `i`. */
export function sampleValue(i: number): Record<string, unknown> {
  return {
    id: i,
    title: `Post number ${i} about caching and invalidation`,
    author: { id: i % 1000, name: `user${i % 1000}` },
    published: true,
    createdAt: '2024-05-01T12:00:00.000Z',
    body: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.',
    tags: ['redis', 'keyv', 'bench'],
  };
}

/** One SLOWLOG entry: id, duration (µs), command name and arguments, client name. */
export interface SlowEntry { id: number; micros: number; command: string; args: string[]; client: string }

function parseSlowlog(raw: unknown): SlowEntry[] {
  return (raw as unknown[][]).map((e) => {
    const args = (e[3] as unknown[]).map(String);
    return { id: Number(e[0]), micros: Number(e[2]), command: (args[0] ?? '').toUpperCase(), args, client: String(e[5] ?? '') };
  });
}

/** Turns the slowlog on for every command, restoring the previous settings afterwards. */
export class Slowlog {
  private saved: Array<[string, string]> = [];
  constructor(private readonly admin: Redis) {}

  async enable(maxLen: number, thresholdUs: number): Promise<void> {
    for (const name of ['slowlog-log-slower-than', 'slowlog-max-len']) {
      const [, value] = (await this.admin.config('GET', name)) as unknown as [string, string];
      this.saved.push([name, value]);
    }
    await this.admin.config('SET', 'slowlog-max-len', String(maxLen));
    await this.admin.config('SET', 'slowlog-log-slower-than', String(thresholdUs));
  }

  async restore(): Promise<void> {
    for (const [name, value] of this.saved.reverse()) await this.admin.config('SET', name, value);
    this.saved = [];
    await this.admin.call('SLOWLOG', 'RESET');
  }

  async reset(): Promise<void> {
    await this.admin.call('SLOWLOG', 'RESET');
  }

  /** Script calls made by connections named `client` since the last reset (other clients' entries are ignored). */
  async scriptCalls(maxLen: number, client: string): Promise<{ calls: SlowEntry[]; truncated: boolean }> {
    const all = parseSlowlog(await this.admin.call('SLOWLOG', 'GET', String(maxLen)));
    const calls = all.filter((e) => e.client === client && (e.command === 'EVALSHA' || e.command === 'EVAL'));
    return { calls, truncated: all.length >= maxLen };
  }
}
