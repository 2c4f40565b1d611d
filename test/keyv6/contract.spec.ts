// Keyv 6's own adapter contract tests (vendored in ./suite, see its README) against CleverStore on
// every backend: the storage tests call the store the way Keyv 6 does (absolute expiries, keys as
// set), the Keyv tests go through Keyv 6 itself.
import { Cluster, Redis } from 'ioredis';
import Keyv from 'keyv';
import * as test from 'vitest';
import { attachKeyv, CleverStore, type CleverStoreOptions } from '../../lib/index.js';
import { REDIS_URL } from '../support/services.js';
import { keyvApiTests } from './suite/api.js';
import { keyvIteratorTests } from './suite/iterator.js';
import { keyvNamespaceTests } from './suite/namespace.js';
import { storageBasicTests } from './suite/storage-basic.js';
import { storageBatchTests } from './suite/storage-batch.js';
import { storageDisconnectTests } from './suite/storage-disconnect.js';
import { storageIteratorTests } from './suite/storage-iterator.js';
import { storageNamespaceTests } from './suite/storage-namespace.js';
import { storageTtlTests } from './suite/storage-ttl.js';
import type { StorageFn, TestFunction } from './suite/types.js';
import { keyvValueTests } from './suite/values.js';

const client = new Redis(REDIS_URL);
// The local Redis Cluster started by test/keyv-suite/cluster-setup.ts.
const cluster = new Cluster(test.inject('clusterNodes').split(',').map((hp) => {
  const [host, port] = hp.split(':');
  return { host: host!, port: Number(port) };
}));
test.afterAll(async () => {
  await client.quit();
  await cluster.quit();
});

/**
 * A store as an application wires it on Keyv 6: adopted by a Keyv and attached (createKeyv does
 * both). The suites then build Keyv instances of their own on it.
 */
const wired = (options: CleverStoreOptions) => (): CleverStore => {
  const store = new CleverStore({ sweepInterval: 0, ...options });
  attachKeyv(new Keyv({ store }));
  return store;
};

// The suite makes a store per test: the Redis ones share one connection.
const factories: Array<[string, () => CleverStore]> = [
  ['memory', wired({})],
  ['redis', wired({ redis: client })],
  ['cluster', wired({ redis: cluster })],
];

const it = test.it as unknown as TestFunction;
for (const [name, store] of factories) {
  test.describe(`Keyv 6 storage contract on CleverStore (${name})`, () => {
    const storage = store as unknown as StorageFn;
    storageBasicTests(it, storage);
    storageBatchTests(it, storage);
    storageIteratorTests(it, storage);
    storageTtlTests(it, storage);
    storageNamespaceTests(it, storage);
    storageDisconnectTests(it, storage);
  });
  test.describe(`Keyv 6 API on CleverStore (${name})`, () => {
    keyvApiTests(it, Keyv, store);
    keyvValueTests(it, Keyv, store);
    keyvNamespaceTests(it, Keyv, store);
    keyvIteratorTests(it, Keyv, store);
  });
}
