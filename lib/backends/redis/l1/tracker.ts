import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { isCluster, type RedisClient } from '../layout.js';
import { TrackingSession } from './session.js';
import type { Tier } from './tier.js';

/**
 * Options of the connections a session opens, over the options of the connection they copy: RESP2
 * (see session.ts), no offline queue (a handshake runs only on a ready connection), no resubscribe
 * of its own (the session redoes the whole handshake), and a name that shows in CLIENT LIST.
 */
const TRACKING_CONNECTION = {
  protocol: 2,
  autoResubscribe: false,
  enableOfflineQueue: false,
  enableAutoPipelining: false,
  lazyConnect: false,
  readOnly: false,
  connectionName: 'keyv-clever:l1',
} as RedisOptions;

/**
 * Keeps the tier in step with Redis: one tracking session per Redis process holding data (every
 * master of a cluster, following topology changes), each registering the BCAST prefix of every
 * namespace in use. The tier serves a namespace only while every session is up and has that
 * namespace's prefix confirmed; whenever a session goes down, and on a FLUSHDB/FLUSHALL, the
 * whole tier is flushed.
 */
export class Tracker {
  private readonly sessions = new Map<string, TrackingSession>();
  /** every prefix in use, keyPrefix included */
  private readonly prefixes = new Set<string>();
  private readonly keyPrefix: string;
  private closed = false;
  private readonly refresh = (): void => this.reconcile();

  constructor(private readonly client: RedisClient, private readonly tier: Tier, private readonly report: (error: Error) => void) {
    this.keyPrefix = client.options.keyPrefix ?? '';
    if (isCluster(client)) {
      for (const event of ['ready', 'refresh', '+node', '-node']) client.on(event, this.refresh);
    }
    this.reconcile();
  }

  /** Whether the tier may serve and fill keys of the namespace with this bucket-prefix stem (`{ns:`). */
  covers(stem: string): boolean {
    const prefix = this.keyPrefix + stem;
    if (!this.prefixes.has(prefix)) {
      this.prefixes.add(prefix);
      for (const session of this.sessions.values()) session.add(prefix);
      return false;
    }
    if (this.sessions.size === 0) return false;
    let covered = true;
    for (const session of this.sessions.values()) {
      if (session.covers(prefix)) continue;
      covered = false;
      session.add(prefix); // (a no-op unless up and not already registering it)
    }
    return covered;
  }

  /** Resolves once every message Redis sent before now has been applied to the tier. */
  async barrier(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.barrier()));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (isCluster(this.client)) {
      for (const event of ['ready', 'refresh', '+node', '-node']) this.client.off(event, this.refresh);
    }
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.close()));
  }

  /** One session per Redis process that holds data: the client itself, or every current master. */
  private reconcile(): void {
    if (this.closed) return;
    const wanted = new Map<string, Redis>();
    if (isCluster(this.client)) {
      for (const node of (this.client as Cluster).nodes('master')) wanted.set(`${node.options.host}:${node.options.port}`, node);
    } else {
      wanted.set('', this.client);
    }
    let changed = false;
    for (const [name, session] of this.sessions) {
      if (wanted.has(name)) continue;
      this.sessions.delete(name);
      void session.close();
      changed = true;
    }
    for (const [name, node] of wanted) {
      if (this.sessions.has(name)) continue;
      this.sessions.set(name, new TrackingSession(name, () => node.duplicate(TRACKING_CONNECTION), () => this.prefixes, {
        keys: (keys) => this.invalidated(keys),
        flush: () => this.tier.flush(),
        changed: () => this.changed(),
        error: (error) => this.report(error),
      }));
      changed = true;
    }
    if (changed) this.tier.flush();
  }

  /** A session went down or came up: while one is down nothing it would report can be trusted. */
  private changed(): void {
    for (const session of this.sessions.values()) {
      if (!session.up) {
        this.tier.flush();
        return;
      }
    }
  }

  /** Drops the value keys Redis reported (index, generation and lock keys share the prefix). */
  private invalidated(keys: string[]): void {
    const drop: string[] = [];
    for (const key of keys) {
      if (!key.startsWith(this.keyPrefix)) continue;
      const local = this.keyPrefix === '' ? key : key.slice(this.keyPrefix.length);
      const close = local.indexOf('}');
      if (close > 0 && local.startsWith('v:', close + 1)) drop.push(local);
    }
    if (drop.length > 0) this.tier.drop(drop);
  }
}
