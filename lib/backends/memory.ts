import type { CompiledDependencies, Invalidation } from '../dependencies.js';
import { rowChangeTags } from '../tags.js';
import { escape } from '../tags.js';
import type { Backend, Capture, WriteEntry } from './backend.js';

interface Entry {
  value: string;
  expiresAt: number;
  tags: string[];
}

/** One namespace's data: values, reverse indexes, schemes and tag generations. */
class Space {
  readonly entries = new Map<string, Entry>();
  readonly index = new Map<string, Set<string>>();
  readonly schemes = new Map<string, Set<string>>();
  readonly generations = new Map<string, { generation: number; expiresAt: number }>();
}

export interface MemoryBackendOptions {
  /** how long a tag's generation outlives its last invalidation, ms */
  raceWindow: number;
}

/**
 * The embedded backend: one process, no server, the same semantics as Redis. Expired entries are
 * dropped when touched and by `sweep()`.
 */
export class MemoryBackend implements Backend {
  readonly kind = 'memory' as const;
  private readonly spaces = new Map<string, Space>();

  constructor(private readonly options: MemoryBackendOptions) {}

  private space(ns: string): Space {
    let space = this.spaces.get(ns);
    if (!space) {
      space = new Space();
      this.spaces.set(ns, space);
    }
    return space;
  }

  /** The live entry for key, dropping it (and its index members) if it has expired. */
  private live(space: Space, key: string, now = Date.now()): Entry | undefined {
    const entry = space.entries.get(key);
    if (entry && entry.expiresAt <= now) {
      this.remove(space, key, entry);
      return undefined;
    }
    return entry;
  }

  private remove(space: Space, key: string, entry: Entry): void {
    space.entries.delete(key);
    for (const tag of entry.tags) {
      const members = space.index.get(tag);
      if (!members) continue;
      members.delete(key);
      if (members.size === 0) space.index.delete(tag);
    }
  }

  async get(ns: string, key: string): Promise<string | undefined> {
    return this.live(this.space(ns), key)?.value;
  }

  async getMany(ns: string, keys: string[]): Promise<Array<string | undefined>> {
    const space = this.space(ns);
    return keys.map((k) => this.live(space, k)?.value);
  }

  async hasMany(ns: string, keys: string[]): Promise<boolean[]> {
    const space = this.space(ns);
    return keys.map((k) => this.live(space, k) !== undefined);
  }

  async set(ns: string, writes: WriteEntry[]): Promise<boolean[]> {
    const space = this.space(ns);
    const now = Date.now();
    return writes.map((w) => {
      if (w.guards?.some(([tag, generation]) => this.generation(space, tag, now) !== generation)) return false;
      const old = space.entries.get(w.key);
      if (old) this.remove(space, w.key, old);
      const entry: Entry = { value: w.value, expiresAt: w.ttl === undefined ? Infinity : now + w.ttl, tags: w.deps.tags };
      space.entries.set(w.key, entry);
      for (const tag of entry.tags) {
        let members = space.index.get(tag);
        if (!members) space.index.set(tag, (members = new Set()));
        members.add(w.key);
      }
      this.addSchemes(space, w.deps.schemes);
      return true;
    });
  }

  async delete(ns: string, keys: string[]): Promise<number> {
    const space = this.space(ns);
    let removed = 0;
    for (const key of new Set(keys)) {
      const entry = this.live(space, key);
      if (entry) {
        this.remove(space, key, entry);
        removed++;
      }
    }
    return removed;
  }

  async clear(ns: string): Promise<void> {
    this.spaces.delete(ns);
  }

  async *iterate(ns: string): AsyncGenerator<[string, string]> {
    const space = this.space(ns);
    for (const key of [...space.entries.keys()]) {
      const entry = this.live(space, key);
      if (entry) yield [key, entry.value];
    }
  }

  private generation(space: Space, tag: string, now: number): number {
    const g = space.generations.get(tag);
    return g && g.expiresAt > now ? g.generation : 0;
  }

  async capture(ns: string, key: string, deps: CompiledDependencies, _lock?: unknown, skipValue = false): Promise<Capture> {
    const space = this.space(ns);
    const entry = skipValue ? undefined : this.live(space, key);
    if (entry) return { kind: 'value', value: entry.value };
    this.addSchemes(space, deps.schemes);
    const now = Date.now();
    // One process: the read-through's in-process coalescing is the whole lock.
    return { kind: 'miss', locked: true, generations: deps.tags.map((t) => this.generation(space, t, now)) };
  }

  async unlock(): Promise<void> {}

  private addSchemes(space: Space, schemes: CompiledDependencies['schemes']): void {
    for (const [table, scheme] of schemes) {
      let set = space.schemes.get(table);
      if (!set) space.schemes.set(table, (set = new Set()));
      set.add(scheme);
    }
  }

  async invalidate(ns: string, request: Invalidation): Promise<{ removed: number; tags: string[] }> {
    const space = this.space(ns);
    const now = Date.now();
    const tags = new Set(request.tags);
    for (const row of request.rows) {
      const schemes = space.schemes.get(escape(row.table)) ?? [];
      for (const tag of rowChangeTags(row.table, [row.values], schemes)) tags.add(tag);
    }
    let removed = 0;
    for (const tag of tags) {
      if (this.options.raceWindow > 0) {
        space.generations.set(tag, { generation: this.generation(space, tag, now) + 1, expiresAt: now + this.options.raceWindow });
      }
      for (const key of [...(space.index.get(tag) ?? [])]) {
        const entry = space.entries.get(key);
        if (!entry) continue;
        if (entry.expiresAt > now) removed++;
        this.remove(space, key, entry);
      }
    }
    return { removed, tags: [...tags] };
  }

  async entriesFor(ns: string, tags: string[]): Promise<string[]> {
    const space = this.space(ns);
    const keys = new Set<string>();
    for (const tag of tags) for (const key of space.index.get(tag) ?? []) if (this.live(space, key)) keys.add(key);
    return [...keys];
  }

  async schemesOf(ns: string, table: string): Promise<string[]> {
    return [...(this.space(ns).schemes.get(table) ?? [])];
  }

  async sweep(ns: string): Promise<number> {
    const space = this.space(ns);
    const now = Date.now();
    let pruned = 0;
    for (const [key, entry] of space.entries) {
      if (entry.expiresAt <= now) {
        pruned += entry.tags.length;
        this.remove(space, key, entry);
      }
    }
    for (const [tag, g] of space.generations) if (g.expiresAt <= now) space.generations.delete(tag);
    return pruned;
  }

  async close(): Promise<void> {
    this.spaces.clear();
  }
}
