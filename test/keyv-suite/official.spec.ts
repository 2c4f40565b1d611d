// The official Keyv adapter suite (it is written for vitest), against both backends.
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import { Cluster, Redis } from 'ioredis';
import Keyv from 'keyv';
import * as test from 'vitest';
import { CleverStore } from '../../lib/index.js';
import { REDIS_URL } from '../support/services.js';

const client = new Redis(REDIS_URL);
// The local Redis Cluster started by cluster-setup.ts.
const cluster = new Cluster(test.inject('clusterNodes').split(',').map((hp) => {
  const [host, port] = hp.split(':');
  return { host: host!, port: Number(port) };
}));
test.afterAll(async () => {
  await client.quit();
  await cluster.quit();
});

const factories: Array<[string, () => CleverStore]> = [
  ['memory', () => new CleverStore({ sweepInterval: 0 })],
  // The suite makes a store per test: share one connection between them.
  ['redis', () => new CleverStore({ redis: client, sweepInterval: 0 })],
  ['cluster', () => new CleverStore({ redis: cluster, sweepInterval: 0 })],
];

for (const [name, store] of factories) {
  test.describe(`@keyv/test-suite on CleverStore (${name})`, () => {
    keyvTestSuite(test, Keyv, store);
    keyvIteratorTests(test, Keyv, store);
  });
}
