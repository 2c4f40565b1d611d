import { Cluster, Redis, type RedisOptions } from 'ioredis';
import Keyv, { type KeyvOptions } from 'keyv';
import { attachKeyv, CleverStore, type CleverStoreOptions } from '../../lib/index.js';
import { clusterNodesFromEnv } from './cluster.js';

import { REDIS_URL } from './services.js';

export { REDIS_URL };

export interface BackendUnderTest {
  name: string;
  /** a new store on this backend; `share` gives the memory backend's data to a second store */
  store(options?: CleverStoreOptions): CleverStore;
}

export const backends: BackendUnderTest[] = [
  { name: 'memory', store: (options = {}) => new CleverStore({ sweepInterval: 0, ...options }) },
  { name: 'redis', store: (options = {}) => new CleverStore(REDIS_URL, { sweepInterval: 0, ...options }) },
  // Several buckets on one server: the cluster layout, where invalidation fans out per bucket.
  { name: 'redis, 4 buckets', store: (options = {}) => new CleverStore(REDIS_URL, { sweepInterval: 0, buckets: 4, ...options }) },
  // The local Redis Cluster the global test setup starts (3 masters, 3 replicas), 16 buckets (the default);
  // replicas get 2 s to acknowledge: 7 processes share 2 cores here (the timeout itself is tested apart).
  { name: 'cluster', store: (options = {}) => new CleverStore({ cluster: clusterNodes(), sweepInterval: 0, replicaTimeout: 2000, ...options }) },
];

/**
 * The store on a client the caller made, in each protocol ioredis 6 speaks: RESP3 (its default),
 * RESP3 with maps as objects (`replyMapping: 'resp3'`), and RESP2 (`protocol: 2`). Several buckets,
 * so reads and invalidations span buckets (the read script, the fan-out).
 */
const callerClient = (name: string, client: () => Redis | Cluster, buckets = 4): BackendUnderTest => ({
  name,
  store: (options = {}) => new CleverStore({ redis: client(), closeClient: true, sweepInterval: 0, replicaTimeout: 2000, buckets, ...options }),
});
const onRedis = (options: RedisOptions) => () => new Redis(REDIS_URL, options);
export const callerClientBackends: BackendUnderTest[] = [
  callerClient("caller's RESP3 client", onRedis({})),
  callerClient("caller's RESP3 client, maps as objects", onRedis({ protocol: 3, replyMapping: 'resp3' })),
  callerClient("caller's RESP2 client", onRedis({ protocol: 2 })),
  callerClient("caller's RESP2 cluster client", () => new Cluster(clusterNodes(), { redisOptions: { protocol: 2 } }), 16),
];

export function clusterNodes(): Array<{ host: string; port: number }> {
  const nodes = clusterNodesFromEnv();
  if (!nodes) throw new Error('CLUSTER_NODES is not set: the cluster tests need the global setup (test/support/global-setup.ts)');
  return nodes;
}

let counter = 0;
/** A namespace no other test (or earlier run) uses. */
export function uniqueNamespace(label = 'test'): string {
  counter += 1;
  return `${label}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** A Keyv on the store in a namespace of its own, attached (set options reach the store on Keyv 6 too). */
export function keyvFor(store: CleverStore, options: Omit<KeyvOptions, 'store'> = {}): Keyv {
  return attachKeyv(new Keyv({ store, namespace: uniqueNamespace(), ...options }));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
