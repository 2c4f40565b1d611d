import './keyv-augment.js';

export { CleverStore, SAFE_EVICTION_POLICIES } from './store.js';
export type { CleverSetOptions, CleverStoreOptions, CleverStoreEvents, CleverStoreStats, InvalidateEvent } from './store.js';
export { getOrSet, registerTransactionWrites } from './read-through.js';
export type { GetOrSetOptions, LockOptions, TransactionWrites } from './read-through.js';
export { matching, Matching, registerDependencyKind } from './dependencies.js';
export type { CompiledDependencies, Dependency, DependencyKind, DependencyObject, RowImage, Invalidation, WhereValue } from './dependencies.js';
export type { Capture } from './backends/backend.js';
export { PartialReadError } from './backends/backend.js';
export type { RedisClient } from './backends/redis.js';
export { withDependencies } from './context.js';
export { related, Related, registerSequelizeHooks, tablesWrittenIn, tableOf } from './sequelize/index.js';
export type { SequelizeHooks, SequelizeHooksOptions } from './sequelize/index.js';
export type { AssociationLike, AttributeLike, InstanceLike, ModelLike, SequelizeLike } from './sequelize/model.js';
