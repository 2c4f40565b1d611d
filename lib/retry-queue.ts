import type { Invalidation } from './dependencies.js';
import { InvalidationsDroppedError, RetryQueueOverflowError } from './errors.js';
import { tableOfTag } from './tags.js';

export interface RetryQueueOptions {
  /** most queued invalidation requests before they are widened (default 1000) */
  size: number;
  /** first retry delay, ms; doubles up to maxDelay */
  minDelay: number;
  maxDelay: number;
  /** runs one request; rejects while the backend is unavailable */
  run(ns: string, request: Invalidation): Promise<unknown>;
  /** clears a namespace (the last resort once the queue cannot say what changed) */
  clear(ns: string): Promise<unknown>;
  report(error: Error): void;
  /** the queue formed (it was empty) */
  onPending?(size: number): void;
  /** the queue emptied by running everything in it */
  onDrained?(): void;
}

interface Pending {
  ns: string;
  request: Invalidation;
}

/**
 * Invalidations that failed (Redis down or slow), retried in order with backoff until Redis
 * answers. Bounded: on overflow the queued requests of a namespace are widened into whole-table
 * and tag invalidations (a superset of what changed), and if even that is too much the namespace
 * is cleared when Redis returns — never a silently lost invalidation.
 */
export class RetryQueue {
  private queue: Pending[] = [];
  private readonly clearOnReturn = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: RetryQueueOptions) {
    this.delay = options.minDelay;
  }

  /** Requests (and namespaces to clear) still waiting for Redis. */
  get size(): number {
    return this.queue.length + this.clearOnReturn.size;
  }

  /** True while invalidations of `ns` are pending: its cached values may be stale. */
  affects(ns: string): boolean {
    return this.clearOnReturn.has(ns) || this.queue.some((p) => p.ns === ns);
  }

  add(ns: string, request: Invalidation): void {
    if (this.closed) return;
    const formed = this.size === 0;
    this.queue.push({ ns, request });
    if (this.queue.length > this.options.size) this.widen();
    if (formed) this.options.onPending?.(this.size);
    this.schedule();
  }

  /** Retries now (Redis reconnected, or someone awaits the drain). */
  drain(): Promise<void> {
    if (this.draining) return this.draining;
    this.draining = this.run().finally(() => { this.draining = undefined; });
    return this.draining;
  }

  /** Stops retrying; what is still queued is reported as lost. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.size > 0) {
      this.options.report(new InvalidationsDroppedError(this.size));
    }
    this.queue = [];
    this.clearOnReturn.clear();
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, this.delay);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const had = this.size > 0;
    try {
      for (const ns of [...this.clearOnReturn]) {
        await this.options.clear(ns);
        this.clearOnReturn.delete(ns);
        this.queue = this.queue.filter((p) => p.ns !== ns);
      }
      while (this.queue.length > 0) {
        const next = this.queue[0]!;
        await this.options.run(next.ns, next.request);
        // Remove what ran, not whatever is first now: an overflow meanwhile may have widened the queue.
        const at = this.queue.indexOf(next);
        if (at >= 0) this.queue.splice(at, 1);
      }
      this.delay = this.options.minDelay;
      if (had && !this.closed) this.options.onDrained?.();
    } catch {
      this.delay = Math.min(this.delay * 2, this.options.maxDelay);
      this.schedule();
    }
  }

  /** Folds the queue into one request per namespace: whole tables for anything on a table, user tags as they are. */
  private widen(): void {
    const byNs = new Map<string, { tags: Set<string>; tables: Set<string> }>();
    for (const { ns, request } of this.queue) {
      let acc = byNs.get(ns);
      if (!acc) byNs.set(ns, (acc = { tags: new Set(), tables: new Set() }));
      for (const tag of request.tags) {
        const table = tableOfTag(tag);
        if (table === undefined) acc.tags.add(tag);
        else acc.tables.add(table);
      }
      request.rows.forEach((r) => acc.tables.add(r.table));
    }
    this.queue = [];
    for (const [ns, { tags, tables }] of byNs) {
      if (tags.size + tables.size > this.options.size) {
        this.clearOnReturn.add(ns);
        this.options.report(new RetryQueueOverflowError(ns, 'clear'));
      } else {
        this.queue.push({ ns, request: { tags: [...tags], rows: [...tables].map((table) => ({ table, values: {} })) } });
        this.options.report(new RetryQueueOverflowError(ns, 'widened'));
      }
    }
  }
}
