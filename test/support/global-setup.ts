// Mocha root hooks: one local Redis Cluster for the whole run (unless CLUSTER_NODES points at one).
import { LocalCluster } from './cluster.js';

let cluster: LocalCluster | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.CLUSTER_NODES) return;
  // Used as soon as its state is ok: invalidations must not wait for replicas still syncing.
  cluster = await LocalCluster.start(6, 1, { waitForSync: false });
  process.env.CLUSTER_NODES = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
}

export async function mochaGlobalTeardown(): Promise<void> {
  await cluster?.stop();
}
