import type { Redis } from 'ioredis';

/** The channel Redis publishes tracking messages on for a RESP2 redirect target. */
export const INVALIDATE_CHANNEL = '__redis__:invalidate';

/** What a session reports to its tracker. */
export interface SessionEvents {
  /** Redis reported these keys (full names, keyPrefix included) changed */
  keys(keys: string[]): void;
  /** Redis reported a FLUSHDB/FLUSHALL (a null message): any key may have changed */
  flush(): void;
  /** the session stopped receiving messages (a connection lost) or came back: the tracker rechecks coverage */
  changed(): void;
  error(error: Error): void;
}

/** Opens one of the session's two connections to its Redis process. */
export type Connect = (role: 'subscriber' | 'control') => Redis;

/**
 * Tracking on one Redis process: BCAST on the given prefixes, messages redirected to a
 * subscribed connection.
 *
 * Two connections, both speaking RESP2: `subscriber`, subscribed to `__redis__:invalidate`, and
 * `control`, whose `CLIENT TRACKING ON REDIRECT <subscriber id> BCAST PREFIX …` registers the
 * prefixes (a subscribed RESP2 connection takes no other command, and prefixes are added as
 * namespaces come into use). RESP3 would deliver `invalidate` pushes on one connection, but
 * ioredis 6 drops push types it does not know, so RESP2 it is, whatever the caller's client speaks.
 *
 * The session is `up` only from a completed handshake until either connection closes. A
 * subscriber that reconnects gets a new client id and would receive nothing (the control's
 * tracking still points at the old one), and a control that reconnects has lost its tracking:
 * either way the whole handshake runs again.
 */
export class TrackingSession {
  private readonly subscriber: Redis;
  private readonly control: Redis;
  /** handshakes started; a handshake overtaken by a newer one (or a loss) does not bring the session up */
  private attempt = 0;
  private closed = false;
  private isUp = false;
  /** prefixes the server has confirmed for the current handshake */
  private readonly confirmed = new Set<string>();
  private subscriberId = '';
  /** the subscriber's current connection has subscribed */
  private subscribed = false;
  /** prefixes being registered */
  private readonly adding = new Set<string>();
  private retry: NodeJS.Timeout | undefined;

  constructor(readonly name: string, connect: Connect, private readonly prefixes: () => Iterable<string>, private readonly events: SessionEvents) {
    this.subscriber = connect('subscriber');
    this.control = connect('control');
    for (const connection of [this.subscriber, this.control]) {
      connection.on('ready', () => { void this.handshake(); });
      connection.on('close', () => this.lost());
      connection.on('error', (error: Error) => this.events.error(error));
    }
    this.subscriber.on('close', () => { this.subscribed = false; });
    this.subscriber.on('messageBuffer', (channel: Buffer, message: unknown) => this.message(channel, message));
  }

  /** Receiving messages for every prefix registered so far. */
  get up(): boolean {
    return this.isUp;
  }

  /** True when messages for keys under `prefix` reach this session. */
  covers(prefix: string): boolean {
    return this.isUp && this.confirmed.has(prefix);
  }

  /** Registers one more prefix on a session that is up (a session coming up registers them all). */
  add(prefix: string): void {
    if (!this.isUp || this.confirmed.has(prefix) || this.adding.has(prefix)) return;
    const attempt = this.attempt;
    this.adding.add(prefix);
    this.control.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', this.subscriberId, 'BCAST', 'PREFIX', prefix).then(() => {
      if (attempt !== this.attempt || !this.isUp) return;
      this.confirmed.add(prefix);
      this.events.changed();
    }, (error: unknown) => this.events.error(error as Error)).finally(() => this.adding.delete(prefix));
  }

  /**
   * Resolves once every message Redis queued for this session before now has been handled: a
   * PING on the subscriber is answered after the messages already in its output buffer.
   */
  async barrier(): Promise<void> {
    if (!this.isUp) return;
    await this.subscriber.ping();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.attempt++;
    clearTimeout(this.retry);
    this.isUp = false;
    await Promise.all([this.subscriber, this.control].map((c) => c.quit().catch(() => c.disconnect())));
  }

  /** Either connection closed: no message can be trusted to arrive until a new handshake. */
  private lost(): void {
    this.attempt++;
    if (!this.isUp) return;
    this.isUp = false;
    this.confirmed.clear();
    this.events.changed();
  }

  private async handshake(): Promise<void> {
    if (this.closed) return;
    const attempt = ++this.attempt;
    if (this.isUp) {
      this.isUp = false;
      this.confirmed.clear();
      this.events.changed();
    }
    if (this.subscriber.status !== 'ready' || this.control.status !== 'ready') return; // the other's 'ready' runs it
    try {
      // A reconnected subscriber is no longer subscribed (no automatic resubscribe: it would not
      // move the redirect to the new client id anyway).
      if (!this.subscribed) {
        this.subscriberId = String(await this.subscriber.client('ID'));
        await this.subscriber.subscribe(INVALIDATE_CHANNEL);
        this.subscribed = true;
      }
      const prefixes = [...this.prefixes()];
      const tracking = this.control.multi().call('CLIENT', 'TRACKING', 'OFF');
      // BCAST without a prefix would track every key: nothing until a namespace is in use.
      if (prefixes.length > 0) tracking.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', this.subscriberId, 'BCAST', ...prefixes.flatMap((p) => ['PREFIX', p]));
      const replies = await tracking.exec();
      const failed = replies?.find(([error]) => error);
      if (failed) throw failed[0]!;
      if (attempt !== this.attempt) return;
      for (const p of prefixes) this.confirmed.add(p);
      this.isUp = true;
      this.events.changed();
    } catch (error) {
      if (attempt !== this.attempt || this.closed) return;
      this.events.error(error as Error);
      // Both connections are up, so no 'ready' will come to try again.
      clearTimeout(this.retry);
      this.retry = setTimeout(() => { void this.handshake(); }, 1000);
      this.retry.unref();
    }
  }

  private message(channel: Buffer, message: unknown): void {
    if (channel.toString() !== INVALIDATE_CHANNEL) return;
    if (message === null || message === undefined) {
      this.events.flush();
      return;
    }
    const keys = Array.isArray(message) ? message : [message];
    this.events.keys(keys.map(String));
  }
}
