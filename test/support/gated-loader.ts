/**
 * A loader that reads (the "database read"), then waits at a gate until released: lets a test
 * commit a write between a load's read and its return, the interleaving that makes caches stale.
 */
export function gatedLoader<T>(read: () => T | Promise<T>) {
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const atGate = new Promise<void>((resolve) => { reached = resolve; });
  return {
    load: async (): Promise<T> => {
      const value = await read();
      reached();
      await gate;
      return value;
    },
    /** resolves once the loader has read and waits at the gate */
    atGate,
    release,
  };
}
