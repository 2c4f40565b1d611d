/**
 * `keyv-clever/sequelize`: the Sequelize integration. Importing it registers the Sequelize
 * dependency kind (models, instances, related(), matching(Model, where)); it never loads
 * 'sequelize' itself: models are recognised by shape.
 * @module
 */
export { related, Related } from './kind.js';
export { registerSequelizeHooks } from './register.js';
export type { SequelizeHooks, SequelizeHooksOptions } from './register.js';
export { tablesWrittenIn } from './transactions.js';
export { tableOf } from './model.js';
export { matching } from '../dependencies.js';
export type { AssociationLike, AttributeLike, InstanceLike, ModelLike, SequelizeLike } from './model.js';
export { cached } from './query-cache/api.js';
export type { CachedFinders, CachedOptions, CacheOption } from './query-cache/api.js';
export type { CacheQueriesOptions } from './query-cache/registry.js';
export { QueryCacheHydrationError, QueryCacheRegistrationError } from './query-cache/errors.js';
