/**
 * A prototype, for measurement only (not part of the library): a Keyv store adapter in front of CleverStore that coalesces
 * the get/set calls issued in the same tick into one getMany (one MGET) / one setMany (one
 * set.lua call). It shows what per-tick batching inside CleverStore would gain.
 */
import type { CleverSetOptions, CleverStore } from '../lib/index.js';

type Pending<K, R> = { item: K; resolve: (r: R) => void; reject: (e: unknown) => void };

function coalesce<K, R>(flush: (items: K[]) => Promise<R[]>): (item: K) => Promise<R> {
  let queue: Array<Pending<K, R>> = [];
  const run = () => {
    const q = queue;
    queue = [];
    flush(q.map((p) => p.item)).then((rs) => q.forEach((p, i) => p.resolve(rs[i]!)), (e: unknown) => q.forEach((p) => p.reject(e)));
  };
  return (item) => new Promise<R>((resolve, reject) => {
    if (queue.push({ item, resolve, reject }) === 1) process.nextTick(run);
  });
}

export class BatchingStore {
  readonly opts: CleverStore['opts'];
  private readonly getOne: (key: string) => Promise<string | undefined>;
  private readonly setOne: (e: { key: string; value: string; ttl?: number | CleverSetOptions }) => Promise<boolean>;

  constructor(readonly inner: CleverStore) {
    this.opts = inner.opts;
    this.getOne = coalesce((keys: string[]) => inner.getMany(keys));
    this.setOne = coalesce((entries: Array<{ key: string; value: string; ttl?: number | CleverSetOptions }>) => inner.setMany(entries));
  }

  get namespace(): string | undefined { return this.inner.namespace; }
  set namespace(ns: string | undefined) { this.inner.namespace = ns; }
  on(event: string, listener: (...args: never[]) => void): this {
    (this.inner as unknown as { on(e: string, l: (...args: never[]) => void): unknown }).on(event, listener);
    return this;
  }
  get(key: string): Promise<string | undefined> { return this.getOne(key); }
  getMany(keys: string[]): Promise<Array<string | undefined>> { return this.inner.getMany(keys); }
  set(key: string, value: string, ttl?: number | CleverSetOptions): Promise<boolean> {
    return this.setOne(ttl === undefined ? { key, value } : { key, value, ttl });
  }
  delete(key: string): Promise<boolean> { return this.inner.delete(key); }
  clear(): Promise<void> { return this.inner.clear(); }
  disconnect(): Promise<void> { return this.inner.disconnect(); }
}
