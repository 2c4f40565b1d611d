/**
 * The Sequelize integration. Importing it registers the Sequelize dependency kind (models,
 * instances, related(), matching(Model, where)); it never loads 'sequelize' itself.
 */
export { related, Related } from './kind.js';
export { registerSequelizeHooks, tablesWrittenIn } from './hooks.js';
export type { SequelizeHooks, SequelizeHooksOptions } from './hooks.js';
export { tableOf } from './model.js';
export { matching } from '../dependencies.js';
