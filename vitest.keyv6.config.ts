import { defineConfig } from 'vitest/config';

// The Keyv 6 job's contract checks (test/keyv6/run.sh, on Node 24): Keyv 6's own adapter test
// suite, vendored in test/keyv6/suite (it is not published for Keyv 6), against every backend.
// `keyv` resolves to Keyv 6, installed beside Keyv 5 as the npm alias keyv6.
export default defineConfig({
  resolve: { alias: [{ find: /^keyv$/, replacement: 'keyv6' }] },
  test: {
    include: ['test/keyv6/**/*.spec.ts'],
    fileParallelism: false,
    globalSetup: ['test/keyv-suite/cluster-setup.ts'],
    testTimeout: 20000,
  },
});
