import { defineConfig } from 'vitest/config';

// Vitest runs only the official @keyv/test-suite (it is written for vitest); everything else is mocha.
export default defineConfig({
  test: {
    include: ['test/keyv-suite/**/*.spec.ts'],
    fileParallelism: false,
    testTimeout: 20000,
  },
});
