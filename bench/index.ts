/**
 * Benchmark runner: `npm run bench [-- filter...]`.
 * Imports every `bench/*.bench.ts` module in alphabetical order (or only those whose name
 * contains one of the filters), runs each module's default export in sequence; the modules
 * print their results as aligned tables (see common.ts). REDIS_URL defaults to db 3.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';
import { REDIS_URL, adminClient } from './common.js';

type BenchModule = { default?: () => Promise<void> };

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2).filter((a) => a !== '--');
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)));

async function environment(): Promise<string> {
  const admin = adminClient();
  try {
    const info = await admin.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
    return `node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model.trim() ?? '?'}), Redis ${version} at ${REDIS_URL}`;
  } finally {
    admin.disconnect();
  }
}

async function main(): Promise<void> {
  if (files.length === 0) {
    console.error(`no bench/*.bench.ts module matches ${filters.join(', ')}`);
    process.exitCode = 1;
    return;
  }
  console.log(`keyv-clever benchmarks: ${files.join(', ')}`);
  console.log(await environment());
  const started = performance.now();
  for (const file of files) {
    const name = file.replace(/\.bench\.ts$/, '');
    console.log(`\n=== ${name} ===`);
    const t0 = performance.now();
    try {
      const mod = (await import(pathToFileURL(join(here, file)).href)) as BenchModule;
      if (typeof mod.default !== 'function') throw new Error(`${file} has no default export function`);
      await mod.default();
      console.log(`\n(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (error) {
      process.exitCode = 1;
      console.error(`\n${name} FAILED:`, error);
    }
  }
  console.log(`\nall done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // Every module closes its connections; if something still holds the event loop, say so and leave.
  setTimeout(() => {
    console.error('bench: a module left handles open (connection or timer not closed); exiting');
    process.exit(process.exitCode ?? 0);
  }, 5000).unref();
}

await main();
