// Mocha root hooks: one local Redis Cluster for the whole run (unless CLUSTER_NODES points at one).
import { LocalCluster } from './cluster.js';

let cluster: LocalCluster | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.CLUSTER_NODES) return;
  cluster = await LocalCluster.start();
  process.env.CLUSTER_NODES = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
}

export async function mochaGlobalTeardown(): Promise<void> {
  await cluster?.stop();
}
