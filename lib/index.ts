import './keyv-augment.js';

export { CleverStore, SAFE_EVICTION_POLICIES } from './store.js';
export type { CleverSetOptions, CleverStoreOptions, CleverStoreEvents, InvalidateEvent } from './store.js';
export { matching, Matching, registerDependencyKind } from './dependencies.js';
export type { Dependency, DependencyKind, DependencyObject, RowImage, Invalidation, WhereValue } from './dependencies.js';
export { withDependencies } from './context.js';
