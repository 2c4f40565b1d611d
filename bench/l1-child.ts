/**
 * The other process of the l1 invalidation-delay benchmark (not a benchmark itself): holds a key in
 * its tier, and reports the wall-clock time at which its tier dropped it.
 */
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { CleverStore } from '../lib/index.js';

const store = new CleverStore(process.argv[2]!, { namespace: process.argv[3]!, sweepInterval: 0, l1: {} });
const now = () => performance.timeOrigin + performance.now();

process.on('message', (message: { key?: string; done?: boolean }) => {
  void (async () => {
    if (message.done) {
      await store.disconnect();
      process.exit(0);
    }
    const key = message.key!;
    const before = store.stats.l1Hits;
    while (store.stats.l1Hits === before) await store.get(key);
    process.send!({ ready: true });
    // Polls between I/O events: the tracking message is handled in between.
    while (store.l1!.entries > 0) await yieldToIo();
    process.send!({ dropped: now() });
  })();
});
process.send!({ started: true });
