// lib/index.ts names this module for the public RedisClient type; the backend lives in ./redis/.
export type { RedisClient } from './redis/index.js';
