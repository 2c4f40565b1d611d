export { RedisBackend, type RedisBackendOptions } from './backend.js';
export { bucketOf, bucketPrefix, escapeNamespace, hashSlot, isCluster, Layout, type RedisClient } from './layout.js';
export { framePlain, headerText, unframe } from './frame.js';
