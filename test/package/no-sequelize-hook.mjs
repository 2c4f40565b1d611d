// Makes 'sequelize' unresolvable, as on a machine where it is not installed.
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === 'sequelize' || specifier.startsWith('sequelize/')) {
    const error = new Error("Cannot find package 'sequelize'");
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`));
