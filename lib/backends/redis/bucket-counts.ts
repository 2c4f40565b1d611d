import { BucketCountMismatchError } from '../../errors.js';
import { bucketPrefix, isCluster, type Layout } from './layout.js';
import { registerScript, runScript } from './scripts.js';

/**
 * Buckets whose count mark a store reads on a cluster before it records a namespace's count (see
 * register): more than any store is likely to be configured with (the default is 16).
 */
const MARKS_PROBED = 64;

/** What the count registration needs of the batching (see Batcher). */
export interface CountIo {
  /** sends every pending batch */
  flush(): void;
  /** reads keys given with their bucket's prefix, one read per Redis process */
  read(ns: string, keys: ReadonlyArray<readonly [p: string, key: string]>): Promise<Array<string | undefined>>;
}

/**
 * The bucket count each namespace's keys are placed with.
 *
 * Every process must place keys with the same bucket count. A store configured with another
 * count than the one recorded adopts the recorded one as soon as a read, set, delete or
 * invalidation tells it, and reports it (onBucketMismatch); a write refused meanwhile is sent
 * again, and an invalidation or delete also covers the recorded buckets, so nothing stale is left
 * behind.
 */
export class BucketCounts {
  /** bucket counts recorded in Redis that differ from the configured one, per namespace */
  private readonly counts = new Map<string, number>();
  /** namespaces whose recorded count a set script confirmed: their plain writes skip the script */
  private readonly verified = new Set<string>();
  private readonly registering = new Map<string, Promise<void>>();
  /** the reads of namespaces' recorded bucket counts a first read asked for (see readRecorded) */
  private readonly looked = new Map<string, Promise<void>>();

  constructor(
    private readonly layout: Layout,
    private readonly configured: number,
    private readonly io: CountIo,
    private readonly onMismatch: ((error: BucketCountMismatchError) => void) | undefined,
  ) {}

  /** The bucket count a namespace's keys are placed with. */
  count(ns: string): number {
    return this.counts.get(ns) ?? this.configured;
  }

  isVerified(ns: string): boolean {
    return this.verified.has(ns);
  }

  /** A set script call confirmed the namespace's recorded count. */
  verify(ns: string): void {
    this.verified.add(ns);
  }

  /** The namespace's data is gone (clear), its recorded count with it: the next write registers it again. */
  unverify(ns: string): void {
    this.verified.delete(ns);
  }

  /**
   * Records the namespace's bucket count in Redis if no store did yet (or its data was wiped),
   * adopts the recorded one, and marks every bucket with it. One at a time per namespace.
   * The count proposed is the largest one marked in the other buckets, if any: on a cluster the
   * record in bucket 0 can be lost alone (its node lost its data), and the entries written under
   * it are still placed with that count, so a store configured otherwise must not redefine it.
   * On a cluster the marks of at least MARKS_PROBED buckets are read (others may sit on the node
   * that lost its data); a single Redis loses the marks with the record.
   */
  register(ns: string): Promise<void> {
    let pending = this.registering.get(ns);
    if (!pending) {
      pending = this.record(ns).finally(() => this.registering.delete(ns));
      this.registering.set(ns, pending);
    }
    return pending;
  }

  private async record(ns: string): Promise<void> {
    const { client } = this.layout;
    const probed = isCluster(client) ? Math.max(this.count(ns), MARKS_PROBED) : this.count(ns);
    // One read per Redis process, like a tick's gets (a GET per bucket otherwise).
    const marks = await this.io.read(ns, Array.from({ length: probed - 1 }, (_, b) => {
      const p = bucketPrefix(ns, b + 1);
      return [p, `${p}m:`] as const;
    }));
    const marked = marks.reduce((most, mark) => {
      const n = Number(mark);
      return Number.isInteger(n) && n > most ? n : most;
    }, 0);
    const recorded = await runScript(client, registerScript, this.layout.bucketPrefixes(ns)[0]!, marked || this.count(ns));
    this.adopt(ns, recorded);
    await Promise.all(this.layout.bucketPrefixes(ns).slice(1).map((p) => client.set(`${p}m:`, recorded)));
  }

  /**
   * A store's first read of a namespace also asks for its recorded bucket count; a read does not
   * wait for it: a store that only reads then finds the writers' keys from its next reads on. A
   * call that must cover every bucket (entriesFor, schemesOf) waits for it. Never rejects.
   */
  readRecorded(ns: string): Promise<void> {
    let asked = this.looked.get(ns);
    if (!asked) {
      asked = this.layout.client.get(`${this.layout.bucketPrefixes(ns)[0]!}m:`).then(
        (recorded) => { if (recorded !== null) this.adopt(ns, Number(recorded)); },
        () => { this.looked.delete(ns); }, // asked again at the next read
      );
      this.looked.set(ns, asked);
    }
    return asked;
  }

  /** Places the namespace's keys with the count Redis records for it, if it differs. */
  adopt(ns: string, recorded: number): void {
    if (!(recorded >= 1) || recorded === this.count(ns)) return;
    // What is pending was placed with the old count: out it goes (set scripts refuse it, see Batcher.refused).
    this.io.flush();
    this.counts.set(ns, recorded);
    this.layout.forget(ns);
    this.verified.delete(ns);
    this.onMismatch?.(new BucketCountMismatchError(ns, this.configured, recorded));
  }
}
