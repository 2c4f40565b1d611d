import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A free TCP port on loopback (`port` 0: any). */
export async function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/**
 * The first port the system hands out to outgoing connections (Linux: ip_local_port_range): a
 * port picked at or above it can be taken by some connection between the check and the bind.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 0) return low;
  } catch {
    // not Linux
  }
  return 65_536;
}

const isFree = (port: number): Promise<boolean> => freePort(port).then(() => true, () => false);

/**
 * A free port whose cluster bus port (port + 10000) is free as well, neither of them one of
 * `taken` or its bus port, both below the ephemeral range when it leaves room (else any).
 */
export async function freeClusterPort(taken: number[]): Promise<number> {
  const low = ephemeralLow();
  const clash = (port: number) => taken.some((t) => t === port || t + 10_000 === port || t === port + 10_000);
  // Below the ephemeral range: [low - 10000 - span, low - 10000) and its bus ports [low - span, low).
  const span = Math.min(5_000, low - 10_000 - 1_024);
  for (let attempt = 0; span > 0 && attempt < 200; attempt++) {
    const port = low - 10_000 - span + Math.floor(Math.random() * span);
    if (!clash(port) && (await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
  for (;;) {
    const port = await freePort();
    if (port > 55_535 || clash(port)) continue;
    if (await isFree(port + 10_000)) return port;
  }
}

/** Sends one command to the redis-server on `port` over a connection of its own (no retries). */
export async function command(port: number, args: string[]): Promise<unknown> {
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

/** 'PONG' if a redis-server answers on `port`, else undefined. */
export const ping = (port: number): Promise<unknown> => command(port, ['PING']).catch(() => undefined);

/** True once the redis-server on `port` is a replica that has finished syncing with its master. */
export async function replicaSynced(port: number): Promise<boolean> {
  const info = String(await command(port, ['INFO', 'replication']).catch(() => ''));
  return info.includes('role:slave') && info.includes('master_link_status:up') && info.includes('master_sync_in_progress:0');
}

/** How many times `redis` ran the commands `names` since its stats were reset (INFO commandstats; commands run by scripts count too). */
export async function commandCalls(redis: Redis, ...names: string[]): Promise<number> {
  const stats = await redis.info('commandstats');
  return names.reduce((sum, name) => sum + Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0), 0);
}

/** redis-server processes started by this process and still running. */
const running = new Set<ChildProcess>();
let reaping = false;

/**
 * Starts redis-server with `args`. When this process exits with servers still running (mocha's
 * --exit after a failed hook, an uncaught error, a benchmark that throws), they are killed, so
 * none outlives it (a signal that kills this process is the one case left).
 */
export function spawnRedisServer(args: string[]): ChildProcess {
  if (!reaping) {
    reaping = true;
    process.once('exit', () => { for (const child of running) child.kill('SIGKILL'); });
  }
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** A redis-server this test owns: started on a free port, stopped by `stop()`. */
export class PrivateRedis {
  private constructor(readonly port: number, private child: ChildProcess, private readonly args: string[]) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(extraArgs: string[] = [], port?: number): Promise<PrivateRedis> {
    port ??= await freePort();
    const child = PrivateRedis.spawn(port, extraArgs);
    const server = new PrivateRedis(port, child, extraArgs);
    await server.waitUntilUp();
    return server;
  }

  private static spawn(port: number, extraArgs: string[]): ChildProcess {
    return spawnRedisServer(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs]);
  }

  /** Kills the server (its data is lost, as in a crash without persistence) and starts it again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    this.child = PrivateRedis.spawn(this.port, this.args);
    await this.waitUntilUp();
  }

  /** Freezes the process (SIGSTOP): connections stay open, nothing answers — a hung or unreachable Redis. */
  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  thaw(): void {
    this.child.kill('SIGCONT');
  }

  private async waitUntilUp(): Promise<void> {
    for (let attempt = 0; attempt <= 100; attempt++) {
      if ((await ping(this.port)) === 'PONG') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.child.kill('SIGKILL');
    throw new Error(`redis-server on port ${this.port} did not answer`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/**
 * A private primary (with `primaryArgs`) and a replica of it, the replica's copy in a temporary
 * directory (not the working directory); `stop()` ends both and removes the directory.
 */
export async function startReplicated(primaryArgs: string[] = []): Promise<{ primary: PrivateRedis; replica: PrivateRedis; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'keyv-clever-replica-'));
  const primary = await PrivateRedis.start(primaryArgs);
  const replica = await PrivateRedis.start(['--replicaof', '127.0.0.1', String(primary.port), '--dir', dir]);
  return {
    primary,
    replica,
    async stop() {
      replica.thaw();
      await replica.stop();
      await primary.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
