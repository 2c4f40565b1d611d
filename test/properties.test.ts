import { internalsOf } from '../lib/store/internal.js';
import { expect } from 'chai';
import fc from 'fast-check';
import { CleverStore, matching, type Dependency } from '../lib/index.js';
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
