/**
 * getOrSet: the hit path against a plain keyv.get (target: at most 1.1x the cost), and the
 * Redis round trips of the miss path, counted from the server's command statistics.
 */
import { type Redis } from 'ioredis';
import Keyv from 'keyv';
import { CleverStore, getOrSet } from '../lib/index.js';
import { REDIS_URL, adminClient, alternate, latencies, median, printTable, ratio, sampleValue, throughput, unlinkMatching } from './common.js';

const KEYS = 1000;
const deps = ['posts', 'authors', 'homepage'];

export default async function run(): Promise<void> {
  const admin = adminClient();
  const rows: Array<Array<string | number>> = [];
  for (const backend of ['redis', 'memory'] as const) {
    const store = backend === 'redis' ? new CleverStore(REDIS_URL, { sweepInterval: 0 }) : new CleverStore({ sweepInterval: 0 });
    const keyv = new Keyv({ store, namespace: 'bench-read-through' });
    await keyv.clear();
    for (let i = 0; i < KEYS; i++) await getOrSet(keyv, `k${i}`, () => sampleValue(i), { dependsOn: deps });
    const load = () => { throw new Error('a hit must not load'); };
    const plain = (i: number) => keyv.get(`k${i % KEYS}`);
    const through = (i: number) => getOrSet(keyv, `k${i % KEYS}`, load, { dependsOn: deps });

    const [seqGet, seqGos] = await alternate([
      async () => median(await latencies(plain, 400)),
      async () => median(await latencies(through, 400)),
    ], 6);
    const [conGet, conGos] = await alternate([
      () => throughput(plain, 50, 400),
      () => throughput(through, 50, 400),
    ], 6);
    const latencyRatio = median(seqGos!.map((g, i) => g / seqGet![i]!));
    const costRatio = median(conGet!.map((g, i) => g / conGos![i]!));
    rows.push([`${backend}: sequential p50 µs`, median(seqGet!).toFixed(1), median(seqGos!).toFixed(1), ratio(latencyRatio), latencyRatio <= 1.1 ? 'yes' : 'NO']);
    rows.push([`${backend}: 50 workers, ops/s`, Math.round(median(conGet!)), Math.round(median(conGos!)), ratio(costRatio), costRatio <= 1.1 ? 'yes' : 'NO']);

    await keyv.clear();
    await store.disconnect();
  }

  // Round trips of the miss path: the commands the store's client sends, counted as they leave.
  {
    const store = new CleverStore(REDIS_URL, { sweepInterval: 0 });
    const keyv = new Keyv({ store, namespace: 'bench-read-through' });
    await getOrSet(keyv, 'warm', () => 1, { dependsOn: deps }); // loads the scripts
    const client = store.client as Redis;
    const sent = new Map<string, number>();
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      sent.set(command.name, (sent.get(command.name) ?? 0) + 1);
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof client.sendCommand;
    const misses = 200;
    for (let i = 0; i < misses; i++) await getOrSet(keyv, `miss${i}`, () => sampleValue(i), { dependsOn: deps });
    const perMiss = [...sent].map(([cmd, n]) => `${cmd} ${(n / misses).toFixed(2)}`);
    const total = [...sent.values()].reduce((a, n) => a + n, 0) / misses;
    rows.push(['redis: round trips per miss', '', perMiss.join(', '), total.toFixed(2), '']);
    await keyv.clear();
    await store.disconnect();
  }
  await unlinkMatching(admin, '{bench-read-through:*');
  admin.disconnect();
  printTable('getOrSet hit vs keyv.get (median of 6 alternating rounds)', ['case', 'keyv.get', 'getOrSet', 'cost ratio', '<= 1.1x'], rows, [
    'cost ratio: getOrSet latency / keyv.get latency (sequential), keyv.get ops/s / getOrSet ops/s (concurrent)',
    'miss path: GET (the miss), EVALSHA capture (generations + lock), EVALSHA set (guarded write + unlock)',
  ]);
}
