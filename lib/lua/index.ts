import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Scripts live beside this module in the sources and in dist/lua once built (bundled into one file).
const here = dirname(fileURLToPath(import.meta.url));
const folder = [here, join(here, 'lua')].find((dir) => existsSync(join(dir, 'set.lua')));

function load(name: string): string {
  if (!folder) throw new Error(`keyv-clever: Lua scripts not found beside ${here}`);
  return readFileSync(join(folder, `${name}.lua`), 'utf8');
}

/** The Redis scripts, by name. Only fixed source text goes here: user input travels in KEYS/ARGV. */
export const scripts = {
  set: load('set'),
  delete: load('delete'),
  invalidate: load('invalidate'),
  sweep: load('sweep'),
  capture: load('capture'),
  unlock: load('unlock'),
} as const;
