/**
 * keyv-clever: a Keyv store whose entries carry dependencies, invalidated exactly.
 * The Sequelize integration lives under `keyv-clever/sequelize`; importing this module registers
 * nothing Sequelize-specific.
 */
import './keyv-augment.js';

export { CleverStore } from './store/store.js';
export { createKeyv, DEFAULT_NAMESPACE } from './keyv/create.js';
export type { CleverKeyv } from './keyv/create.js';
export { attachKeyv } from './keyv/attach.js';
export { DEFAULTS, SAFE_EVICTION_POLICIES } from './store/options.js';
export type { CleverStoreOptions, L1Options } from './store/options.js';
export type { CleverSetOptions } from './store/writes.js';
export type { CleverStoreEvents, CleverStoreStats, GraceEvent, InvalidateEvent, PendingEvent } from './store/events.js';
export { getOrSet } from './read-through.js';
export type { GetOrSetOptions, LockOptions } from './read-through.js';
export { matching, Matching } from './dependencies.js';
export type { Dependency, DependencyObject, WhereValue } from './dependencies.js';
export { withDependencies } from './context.js';
export type { RedisClient } from './backends/redis/index.js';
export {
  BadDependencyError, BucketCountMismatchError, BucketCountUnstableError, InvalidOptionError, InvalidationsDroppedError,
  ForeignKeyCatalogError, KeyvCleverError, PartialReadError, PrequeryError, ReplicaTimeoutError, RetryQueueOverflowError, SetOptionsLostError, StaleCaptureError,
  UnattachedKeyvError, UnsafeEvictionError,
} from './errors.js';
