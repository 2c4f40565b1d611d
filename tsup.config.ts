import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  // The Sequelize integration is its own entry: importing the root loads none of it.
  entry: { index: 'lib/index.ts', sequelize: 'lib/sequelize/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  // Shared chunks in both formats: the two entries must share one copy of the core (the
  // dependency-kind registry, the store class), or the Sequelize kind would register elsewhere.
  splitting: true,
  shims: true, // import.meta.url in the CommonJS build (the Lua loader uses it)
  target: 'node20',
  external: ['keyv', 'ioredis', 'sequelize'],
  async onSuccess() {
    cpSync('lib/lua', 'dist/lua', { recursive: true, filter: (src) => !src.endsWith('.ts') });
  },
});
