/**
 * Where the tests and benchmarks find the real servers, in one place. Each can be pointed
 * elsewhere by its environment variable; the defaults are the machine's own services. Test
 * groups use separate Redis databases so a run of one never sees another's keys.
 */

/** Redis for the store tests (db 1). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1';
/** Redis for the Sequelize tests (db 2). */
export const SEQUELIZE_REDIS_URL = process.env.SEQUELIZE_REDIS_URL ?? 'redis://127.0.0.1:6379/2';
/** Redis for the benchmarks (db 3). */
export const BENCH_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/3';
/** PostgreSQL (trust auth, database `test`). */
export const PG_URL = process.env.DATABASE_URL ?? process.env.SEQUELIZE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** MariaDB / MySQL (root, empty password, database `test`). */
export const MARIADB_URL = process.env.MARIADB_URL ?? 'mariadb://root@127.0.0.1:3306/test';
