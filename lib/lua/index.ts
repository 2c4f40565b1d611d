import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Scripts live beside this module in the sources and in dist/lua once built (bundled into one file).
const here = dirname(fileURLToPath(import.meta.url));
const folder = [here, join(here, 'lua')].find((dir) => existsSync(join(dir, 'set.lua')));

function read(name: string): string {
  if (!folder) throw new Error(`keyv-clever: Lua scripts not found beside ${here}`);
  return readFileSync(join(folder, `${name}.lua`), 'utf8');
}

const edges = read('edges');

/** A script that works on the dependency index: edges.lua goes first, after any shebang line. */
function withEdges(name: string): string {
  const body = read(name);
  if (!body.startsWith('#!')) return `${edges}\n${body}`;
  const eol = body.indexOf('\n');
  return `${body.slice(0, eol + 1)}${edges}\n${body.slice(eol + 1)}`;
}

/** The Redis scripts, by name. Only fixed source text goes here: user input travels in KEYS/ARGV. */
export const scripts = {
  set: withEdges('set'),
  mget: read('mget'),
  delete: withEdges('delete'),
  invalidate: withEdges('invalidate'),
  sweep: withEdges('sweep'),
  entries: withEdges('entries'),
  capture: read('capture'),
  unlock: read('unlock'),
  register: read('register'),
} as const;
