// Makes require('sequelize') fail, as on a machine where it is not installed.
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'sequelize' || request.startsWith('sequelize/')) {
    const error = new Error("Cannot find module 'sequelize'");
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
