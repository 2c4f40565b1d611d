/**
 * The library as its users run it: the built package (dist/), not the TypeScript sources run
 * through tsx, whose transform wraps every function it creates (keepNames) and so adds a cost on
 * the hot paths that the published build does not have. `npm run bench` builds first; running a
 * bench module directly against a dist/ older than lib/ is refused, so a figure never describes
 * code other than the sources beside it.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Root from '../lib/index.js';
import type * as Sequelize from '../lib/sequelize/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const built = (() => {
  try {
    return statSync(join(root, 'dist', 'index.js')).mtimeMs;
  } catch {
    return -1;
  }
})();
if (built < newestSource(join(root, 'lib'))) {
  throw new Error('bench: dist/ is missing or older than lib/; run `npm run build` (npm run bench does)');
}

// Loaded by URL: the types come from the sources, so type-checking needs no build.
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(root, 'dist', file)).href)) as T;
/** The package's root entry, `keyv-clever`. */
export const pkg = await load<typeof Root>('index.js');
/** Its Sequelize entry, `keyv-clever/sequelize` (one copy of the core with the root: shared chunks). */
export const pkgSequelize = await load<typeof Sequelize>('sequelize.js');
