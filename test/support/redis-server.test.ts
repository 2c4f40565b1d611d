import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ping } from './redis-server.js';

const run = promisify(execFile);

describe('test servers do not outlive the process that started them', function () {
  this.timeout(60_000);

  for (const [how, ending] of [['exits without stopping them', 'process.exit(0)'], ['dies of an uncaught error', 'throw new Error("boom")']]) {
    it(`a private redis-server and a local cluster are killed (and the cluster's files removed) when their process ${how}`, async () => {
      // A separate Node process starts the servers, reports their ports, then ends abruptly.
      const script = `
        import { PrivateRedis } from './test/support/redis-server.ts';
        import { LocalCluster } from './test/support/cluster.ts';
        const server = await PrivateRedis.start();
        const cluster = await LocalCluster.start(1);
        console.log(JSON.stringify({ ports: [server.port, ...cluster.ports], dir: cluster.dir }));
        ${ending};
      `;
      const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() })
        .catch((error: { stdout: string }) => error);
      const { ports, dir } = JSON.parse(stdout.trim().split('\n').pop()!) as { ports: number[]; dir: string };
      expect(ports).to.have.length(2);
      expect(existsSync(dir), `cluster directory ${dir} left behind`).to.equal(false);
      // SIGKILL is delivered at once, but give the kernel a moment to release the ports.
      const deadline = Date.now() + 5_000;
      let up = ports;
      while (up.length > 0 && Date.now() < deadline) {
        up = (await Promise.all(ports.map(async (p) => ((await ping(p)) === 'PONG' ? p : undefined)))).filter((p) => p !== undefined);
        if (up.length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(up, 'servers still answering').to.deep.equal([]);
    });
  }
});
