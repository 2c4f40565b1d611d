#!/usr/bin/env sh
# The Keyv 6 job of `npm test` (npm run test:keyv6): Node 24 from the npm registry, with Keyv 6.1
# and ioredis 6. Keyv 6 is installed beside Keyv 5 as the npm alias keyv6; world.mjs makes the bare
# `keyv` resolve to it. Runs the behaviour suite (memory, Redis, the local cluster, callers'
# RESP2/RESP3 clients), the wiring and Keyv 6 tests, the Sequelize suite on PostgreSQL, and Keyv 6's
# own adapter contract tests (vitest.keyv6.config.ts).
set -eu
node --version | grep -q '^v24\.' || { echo "test:keyv6: expected Node 24, got $(node --version)" >&2; exit 1; }
SEQUELIZE_DIALECTS=postgres node --import tsx --import ./test/keyv6/world.mjs node_modules/mocha/bin/mocha.js --config test/keyv6/mocha.json
node node_modules/vitest/vitest.mjs run --config vitest.keyv6.config.ts
