import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { command, freeClusterPort, ping, replicaSynced, spawnRedisServer } from './redis-server.js';

const run = promisify(execFile);

/** Data directories of clusters not stopped yet: removed when this process exits (see spawnRedisServer). */
const dirs = new Set<string>();
let cleaning = false;

function makeDir(): string {
  if (!cleaning) {
    cleaning = true;
    process.once('exit', () => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });
  }
  const dir = mkdtempSync(join(tmpdir(), 'keyv-clever-cluster-'));
  dirs.add(dir);
  return dir;
}

/**
 * A real local Redis Cluster: 6 redis-server processes (3 masters, 3 replicas) on free ports,
 * joined with `redis-cli --cluster create`, ready once every replica has synced (else it could not
 * take over a master that dies). Tests reach it through `CLUSTER_NODES`.
 * `start(1)` is a one-node cluster holding every slot (no replica): the cluster code path with
 * one process, as a control for the benchmarks.
 */
export class LocalCluster {
  private constructor(readonly ports: number[], private readonly children: ChildProcess[], private readonly dir: string) {}

  get nodes(): Array<{ host: string; port: number }> {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  /**
   * `size` redis-server processes: one holding every slot, or masters with `replicas` replicas
   * each. A start that fails (a port taken meanwhile, a node that does not join in time) is
   * retried on fresh ports; the last error says which step failed. `waitForSync: false` hands
   * the cluster over at cluster_state:ok, replicas perhaps still syncing; `serverArgs` go to
   * every redis-server.
   */
  static async start(size = 6, replicas = 1, { waitForSync = true, serverArgs = [] }: { waitForSync?: boolean; serverArgs?: string[] } = {}): Promise<LocalCluster> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        return await LocalCluster.startOnce(size, replicas, waitForSync, serverArgs);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private static async startOnce(size: number, replicas: number, waitForSync: boolean, serverArgs: string[]): Promise<LocalCluster> {
    const dir = makeDir();
    const ports: number[] = [];
    const children: ChildProcess[] = [];
    const cluster = new LocalCluster(ports, children, dir);
    let step = 'choosing ports';
    try {
      for (let i = 0; i < size; i++) ports.push(await freeClusterPort(ports));
      for (const port of ports) {
        children.push(spawnRedisServer([
          // announce-ip: a node that never met another would report its address as '' in CLUSTER SLOTS
          '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000',
          '--save', '', '--appendonly', 'no', '--dir', dir, ...serverArgs,
        ]));
      }
      step = 'waiting for every redis-server to answer';
      await waitFor(async () => {
        const exited = children.findIndex((c) => c.exitCode !== null || c.signalCode !== null);
        if (exited !== -1) throw new Error(`redis-server on port ${ports[exited]} exited (${children[exited]!.exitCode ?? children[exited]!.signalCode})`);
        for (const port of ports) if ((await ping(port)) !== 'PONG') return false;
        return true;
      });
      step = 'joining the nodes';
      if (size === 1) await command(ports[0]!, ['CLUSTER', 'ADDSLOTSRANGE', '0', '16383']);
      else await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
      step = 'waiting for cluster_state:ok on every node';
      await waitFor(async () => {
        for (const port of ports) {
          const info = await command(port, ['CLUSTER', 'INFO']).catch(() => '');
          if (!String(info).includes('cluster_state:ok')) return false;
        }
        return true;
      });
      // A replica that has not finished its first sync cannot take over when its master dies.
      if (waitForSync) {
        step = 'waiting for every replica to sync';
        const masters = size === 1 ? 1 : Math.ceil(size / (replicas + 1));
        await waitFor(async () => (await Promise.all(ports.map(replicaSynced))).filter(Boolean).length === size - masters);
      }
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw new Error(`local Redis Cluster (ports ${ports.join(', ') || 'none'}): ${step} failed: ${(error as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    })));
    rmSync(this.dir, { recursive: true, force: true });
    dirs.delete(this.dir);
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not done in ${timeoutMs / 1000} s`);
}

/** `CLUSTER_NODES=host:port,…` as set by the global test setup. */
export function clusterNodesFromEnv(): Array<{ host: string; port: number }> | undefined {
  const spec = process.env.CLUSTER_NODES;
  if (!spec) return undefined;
  return spec.split(',').map((hp) => {
    const [host, port] = hp.split(':');
    return { host: host!, port: Number(port) };
  });
}
