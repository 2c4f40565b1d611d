// Vitest global setup: a local Redis Cluster for the official suite, torn down afterwards.
import type { TestProject } from 'vitest/node';
import { LocalCluster } from '../support/cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    clusterNodes: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.CLUSTER_NODES) {
    project.provide('clusterNodes', process.env.CLUSTER_NODES);
    return async () => undefined;
  }
  const cluster = await LocalCluster.start();
  project.provide('clusterNodes', cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','));
  return () => cluster.stop();
}
