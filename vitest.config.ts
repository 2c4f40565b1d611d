import { defineConfig } from 'vitest/config';

// Vitest runs only the official @keyv/test-suite (it is written for vitest); everything else is mocha.
export default defineConfig({
  test: {
    include: ['test/keyv-suite/**/*.spec.ts'],
    fileParallelism: false,
    globalSetup: ['test/keyv-suite/cluster-setup.ts'],
    testTimeout: 20000,
  },
});
