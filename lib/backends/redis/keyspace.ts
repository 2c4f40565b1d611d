import { KINDS, escapeNamespace, globEscape, parseKey, type Layout } from './layout.js';
import { configValue } from './replies.js';
import { runScript, sweepScript } from './scripts.js';

/** Work that walks a namespace's keys with SCAN, on every master. */
export class Keyspace {
  constructor(
    private readonly layout: Layout,
    private readonly scanCount: number,
    private readonly getMany: (ns: string, keys: string[]) => Promise<Array<string | undefined>>,
  ) {}

  /** Scans every master for keys of this namespace, yielding batches with keyPrefix removed. */
  private async *scan(ns: string, suffix: string): AsyncGenerator<string[]> {
    const { keyPrefix } = this.layout;
    const match = `${globEscape(keyPrefix)}{${globEscape(escapeNamespace(ns))}:*}${suffix}`;
    for (const node of this.layout.masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', this.scanCount);
        cursor = next;
        if (keys.length > 0) yield keys.map((k) => k.slice(keyPrefix.length));
      } while (cursor !== '0');
    }
  }

  /** Unlinks every key the store wrote in the namespace, the bucket count (m:) included. */
  async clear(ns: string): Promise<void> {
    for await (const keys of this.scan(ns, '*')) {
      const groups = new Map<string, string[]>();
      for (const k of keys) {
        const { p, kind } = parseKey(k);
        if (!KINDS.has(kind)) continue; // shaped like ours but not written by the store
        let group = groups.get(p);
        if (!group) groups.set(p, (group = []));
        group.push(k);
      }
      await Promise.all([...groups.values()].map((group) => this.layout.client.unlink(group)));
    }
  }

  async *iterate(ns: string): AsyncGenerator<[string, string]> {
    for await (const keys of this.scan(ns, 'v:*')) {
      const found = keys.map(parseKey).filter((k) => k.kind === 'v:');
      const values = await this.getMany(ns, found.map((k) => k.rest));
      for (let i = 0; i < found.length; i++) {
        const value = values[i];
        if (value !== undefined) yield [found[i]!.rest, value];
      }
    }
  }

  /** Prunes expired index members, one sweep script call per bucket and SCAN batch. */
  async sweep(ns: string): Promise<number> {
    let pruned = 0;
    for await (const keys of this.scan(ns, '[ip]:*')) {
      const groups = new Map<string, { sorted: string[]; pages: string[] }>();
      for (const k of keys.map(parseKey)) {
        if (k.kind !== 'i:' && k.kind !== 'p:') continue;
        let group = groups.get(k.p);
        if (!group) groups.set(k.p, (group = { sorted: [], pages: [] }));
        (k.kind === 'i:' ? group.sorted : group.pages).push(k.rest);
      }
      const counts = await Promise.all([...groups].map(([p, group]) => runScript(this.layout.client, sweepScript, p, group)));
      pruned += counts.reduce((a, b) => a + b, 0);
    }
    return pruned;
  }

  /** The eviction policy of every master (they should agree). */
  async evictionPolicies(): Promise<string[]> {
    return Promise.all(this.layout.masters().map(async (node) => {
      return configValue(await node.config('GET', 'maxmemory-policy'), 'maxmemory-policy') ?? 'unknown';
    }));
  }
}
