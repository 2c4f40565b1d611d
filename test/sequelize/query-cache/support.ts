/**
 * Helpers of the query-cache tests: everything a caller can observe of a finder's result, in a
 * form chai compares deeply (types included), and a count of the queries that reach the database.
 */
import { Model, type Sequelize } from 'sequelize';

type Observed = { [key: string]: unknown };

/**
 * What a result shows: for an instance its class, state (isNewRecord, changed(), previous values),
 * raw and gotten values (getters, virtuals), its JSON, the options it was built with that change
 * behaviour, and its included instances the same way; other values as they are.
 */
export function observe(value: unknown): unknown {
  if (value instanceof Model) {
    const instance = value as Model & { _options: Record<string, unknown>; _previousDataValues: Record<string, unknown> };
    const out: Observed = {
      class: instance.constructor.name,
      isNewRecord: instance.isNewRecord,
      changed: instance.changed(),
      dataValues: observe(instance.dataValues),
      previous: observe(instance._previousDataValues),
      get: observe(instance.get()),
      plain: instance.get({ plain: true }),
      json: JSON.parse(JSON.stringify(instance)),
      attributes: instance._options.attributes,
      includeNames: instance._options.includeNames,
      raw: instance._options.raw,
    };
    return out;
  }
  if (Array.isArray(value)) return value.map(observe);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, observe(v)]));
  }
  return value;
}

/** Counts the SELECTs `sequelize` sends from now on; `stop()` removes the hook. */
export function countSelects(sequelize: Sequelize): { readonly count: number; reset(): void; stop(): void } {
  const name = `count-selects-${Math.random().toString(36).slice(2)}`;
  let count = 0;
  sequelize.addHook('beforeQuery', name, (options: { type?: string }) => {
    if (options.type === 'SELECT') count += 1;
  });
  return {
    get count() {
      return count;
    },
    reset() {
      count = 0;
    },
    stop() {
      sequelize.removeHook('beforeQuery', name);
    },
  };
}
