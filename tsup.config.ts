import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'lib/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  shims: true, // import.meta.url in the CommonJS build (the Lua loader uses it)
  target: 'node20',
  external: ['keyv', 'ioredis', 'sequelize'],
  async onSuccess() {
    cpSync('lib/lua', 'dist/lua', { recursive: true, filter: (src) => !src.endsWith('.ts') });
  },
});
