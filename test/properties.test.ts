import { internalsOf } from '../lib/store/internal.js';
import { expect } from 'chai';
import fc from 'fast-check';
import { CleverStore, matching, type Dependency } from '../lib/index.js';
import { compileDependencies } from '../lib/dependencies.js';
import { Collector, type Change } from '../lib/sequelize/collector.js';
import { REDIS_URL, uniqueNamespace } from './support/backends.js';

// Random operation sequences run against the Redis backend (single and bucketed) and the memory
// backend, which serves as the model: every answer must agree.
const keys = ['a', 'b', 'c', 'd', 'e', 'ключ', '{x}', 'p:q'];
const tags = ['t1', 't2', 't3', '}{', 'a|b'];
const dep = fc.oneof(
  fc.constantFrom(...tags),
  fc.record({ table: fc.constantFrom('posts', 'users'), id: fc.integer({ min: 1, max: 3 }), status: fc.constantFrom('x', 'y', undefined) })
    .map(({ table, id, status }) => (status === undefined ? matching(table, { id }) : matching(table, { id, status }))),
  fc.constantFrom('posts', 'users').map((table) => matching(table)),
);
const row = fc.record({ table: fc.constantFrom('posts', 'users'), id: fc.integer({ min: 1, max: 3 }), status: fc.constantFrom('sx', 'sy', undefined) })
  .map(({ table, id, status }): { table: string; values: Record<string, string> } => ({
    table, values: status === undefined ? { id: `n${id}` } : { id: `n${id}`, status },
  }));

type Op =
  | { op: 'set'; key: string; value: string; deps: Dependency[] }
  | { op: 'setMany'; entries: Array<{ key: string; deps: Dependency[] }> }
  | { op: 'get'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'invalidate'; deps: Dependency[] }
  | { op: 'rows'; rows: Array<{ table: string; values: Record<string, string> }> };

const operation: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...keys), value: fc.string({ maxLength: 5 }), deps: fc.array(dep, { maxLength: 4 }) }),
  fc.record({ op: fc.constant('setMany' as const), entries: fc.array(fc.record({ key: fc.constantFrom(...keys), deps: fc.array(dep, { maxLength: 3 }) }), { maxLength: 4 }) }),
  fc.record({ op: fc.constant('get' as const), key: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('invalidate' as const), deps: fc.array(dep, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('rows' as const), rows: fc.array(row, { minLength: 1, maxLength: 2 }) }),
);

async function apply(store: CleverStore, op: Op): Promise<unknown> {
  switch (op.op) {
    case 'set': return store.set(op.key, op.value, { dependsOn: op.deps });
    case 'setMany': {
      // Duplicate keys in one setMany: the last one wins on every backend.
      return store.setMany(op.entries.map((e, i) => ({ key: e.key, value: String(i), ttl: { dependsOn: e.deps } })));
    }
    case 'get': return store.get(op.key);
    case 'delete': return store.delete(op.key);
    case 'invalidate': return store.invalidate(...op.deps);
    case 'rows': return internalsOf(store)!.invalidateRequest({ tags: [], rows: op.rows });
  }
}

describe('property: Redis backends agree with the memory model on random operation sequences', function () {
  this.timeout(120_000);
  for (const buckets of [1, 4]) {
    it(`${buckets} bucket(s): every result and the final contents match`, async () => {
      const redis = new CleverStore(REDIS_URL, { sweepInterval: 0, buckets });
      try {
        await fc.assert(fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (ops) => {
          const ns = uniqueNamespace('prop');
          const model = new CleverStore({ sweepInterval: 0, namespace: ns });
          redis.namespace = ns;
          try {
            for (const [i, op] of ops.entries()) {
              expect(await apply(redis, op), `step ${i}: ${JSON.stringify(op)}`).to.deep.equal(await apply(model, op));
            }
            expect(await redis.getMany(keys)).to.deep.equal(await model.getMany(keys));
          } finally {
            await redis.clear();
            await model.disconnect();
          }
        }), { numRuns: 60 });
      } finally {
        await redis.disconnect();
      }
    });
  }
});

// The Sequelize collector answers "has this transaction written what an entry depends on?" with
// touches(tag); the backends apply the row -> tags rule when they invalidate (tags.ts for memory,
// invalidate.lua for Redis). For random row changes collected in a Collector and random entries,
// flushing the changes must remove an entry iff touches() reaches one of the tags it is listed
// under, and an entry of one dependency iff touches() reaches that dependency's own tag (its
// conjunction tag, whose any-scheme fallback touches() must include, its table tag or its user
// tag), so the TypeScript and Lua copies of the rule cannot drift unnoticed.
const TABLES = ['posts', 'a|b'];
const VALUES: Record<string, fc.Arbitrary<string | number | null>> = {
  id: fc.constantFrom(1, 2),
  status: fc.constantFrom('x', 'y', null),
  'k&v': fc.constantFrom('p', 'q=r'),
};
/** Some of the fields with values; absent fields are unknown in a row image. */
const someValues = fc.record(Object.fromEntries(Object.entries(VALUES).map(([f, v]) => [f, fc.option(v, { nil: undefined })])))
  .map((values) => Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)));
/** A conjunction of a random scheme (no fields: the whole table), or a user tag. */
const entryDep: fc.Arbitrary<Dependency> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ table: fc.constantFrom(...TABLES), where: someValues }).map(({ table, where }) => matching(table, where)) },
  { weight: 1, arbitrary: fc.constant('u1') },
);
const change: fc.Arbitrary<Change> = fc.record({
  tables: fc.subarray(TABLES, { maxLength: 1 }),
  images: fc.array(fc.record({ table: fc.constantFrom(...TABLES), values: someValues }), { maxLength: 5 }),
});

describe('property: the Sequelize collector\'s touches() agrees with what the backends remove', function () {
  this.timeout(120_000);
  const backends: Array<[string, () => CleverStore]> = [
    ['memory', () => new CleverStore({ sweepInterval: 0 })],
    ['Redis, 1 bucket', () => new CleverStore(REDIS_URL, { sweepInterval: 0, buckets: 1 })],
    ['Redis, 4 buckets', () => new CleverStore(REDIS_URL, { sweepInterval: 0, buckets: 4 })],
  ];
  for (const [name, open] of backends) {
    it(`${name}: an entry is removed iff touches() reaches one of its tags`, async () => {
      const store = open();
      try {
        await fc.assert(fc.asyncProperty(
          fc.array(fc.array(entryDep, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
          fc.array(change, { minLength: 1, maxLength: 3 }),
          fc.integer({ min: 1, max: 4 }),
          async (entries, changes, maxRowImages) => {
            store.namespace = uniqueNamespace('touches');
            try {
              const collector = new Collector(maxRowImages);
              for (const c of changes) collector.add(c);
              for (const [i, deps] of entries.entries()) await store.set(`e${i}`, 'v', { dependsOn: deps });
              const listed = entries.map((deps) => compileDependencies(deps).tags);
              await internalsOf(store)!.invalidateRequest(collector.request());
              for (const [i, tags] of listed.entries()) {
                const removed = (await store.get(`e${i}`)) === undefined;
                const touched = tags.filter((tag) => collector.touches(tag));
                const context = `entry ${i} listed under ${JSON.stringify(tags)}, touched ${JSON.stringify(touched)}, rows ${JSON.stringify(collector.request().rows)}`;
                expect(removed, context).to.equal(touched.length > 0);
                // compileDependencies lists a dependency's own tag first (before its any-scheme tag).
                if (entries[i]!.length === 1) expect(collector.touches(tags[0]!), `own tag: ${context}`).to.equal(removed);
              }
            } finally {
              await store.clear();
            }
          },
        ), { numRuns: 80 });
      } finally {
        await store.disconnect();
      }
    });
  }
});
