/**
 * The Sequelize dependency kind: models, instances, `related(instance, alias)` and
 * `matching(Model, where)`. Registered with the core when this module loads; it never requires
 * 'sequelize' (models are recognised by shape), so the package works without it installed.
 */
import { Matching, registerDependencyKind, type RowImage } from '../dependencies.js';
import { BadDependencyError } from '../errors.js';
import { canonicalWhere, metaOf, primaryKeyOf, rowImage, valuesBefore, type ModelMeta } from './meta.js';
import { describe, isInstance, isModel, modelName, type AssociationLike, type InstanceLike, type ModelLike } from './model.js';
import { checkRegistered } from './registrations.js';
import { isPlain } from './where.js';

/* ------------------------------------------------------------------------------------------ */
/* Building blocks                                                                            */
/* ------------------------------------------------------------------------------------------ */

/** @internal `matching(Model, where)` in canonical form (attribute names, normalized values). */
export function modelMatching(model: ModelLike, where: Record<string, unknown>, label = `matching(${modelName(model)})`): Matching {
  const meta = metaOf(model);
  return new Matching(meta.table, canonicalWhere(meta, where, label));
}

/** @internal The equality conjunction on an instance's primary key; BadDependencyError for an unsaved instance. */
export function instanceMatching(instance: InstanceLike, label: string): Matching {
  const model = instance.constructor;
  const meta = metaOf(model);
  if (meta.primaryKey.length === 0) {
    throw new BadDependencyError(label, instance, `${label}: model ${modelName(model)} has no primary key, so an instance cannot be a dependency; use matching(${modelName(model)}, { … }) instead`);
  }
  const pk = primaryKeyOf(instance, meta);
  for (const [attribute, value] of Object.entries(pk)) {
    if (value === undefined || value === null) {
      throw new BadDependencyError(label, instance, `${label}: ${describe(instance)} has no value for primary key '${attribute}' (unsaved instance?); save it first or depend on the model ${modelName(model)}`);
    }
  }
  return new Matching(meta.table, canonicalWhere(meta, pk, label));
}

/** Scope conditions usable as equality fields (operators and non-columns are left out: wider, never stale). */
function equalityScope(meta: ModelMeta, scope: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!scope || typeof scope !== 'object') return out;
  for (const [key, value] of Object.entries(scope)) {
    const column = meta.columns.get(key);
    if (!column?.norm) continue;
    if (isPlain(value)) out[key] = value;
  }
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* related(instance, alias)                                                                   */
/* ------------------------------------------------------------------------------------------ */

const ASSOCIATION_TYPES = new Set(['HasMany', 'HasOne', 'BelongsTo', 'BelongsToMany']);

/**
 * A dependency on the rows of one association of a saved instance (see `related`).
 * Resolved when the entry is written, from the instance's current key values.
 */
export class Related {
  readonly instance: InstanceLike;
  readonly alias: string;
  readonly association: AssociationLike;

  constructor(instance: InstanceLike, alias: string, association: AssociationLike) {
    this.instance = instance;
    this.alias = alias;
    this.association = association;
  }

  /** The equality conjunctions an entry on this association reads. */
  conjunctions(label = `related(${modelName(this.instance.constructor)}, '${this.alias}')`): Matching[] {
    const { instance, association: a } = this;
    const source = instance.constructor;
    const sourcePk = metaOf(source).primaryKey;
    const keyOf = (attribute: string, role: string) => {
      const value = instance.get(attribute, { raw: true });
      if (value === undefined || value === null) {
        throw new BadDependencyError(label, instance, `${label}: ${describe(instance)} has no value for ${role} '${attribute}' (unsaved instance?); save it first`);
      }
      return value;
    };
    switch (a.associationType) {
      case 'HasMany':
      case 'HasOne': {
        const sourceKey = a.sourceKey ?? sourcePk[0]!;
        const targetMeta = metaOf(a.target);
        const out = [modelMatching(a.target, { ...equalityScope(targetMeta, a.scope), [a.foreignKey]: keyOf(sourceKey, 'source key') }, label)];
        // A non-primary source key may change, moving the whole set: depend on the source row too.
        if (!sourcePk.includes(sourceKey)) out.push(instanceMatching(instance, label));
        return out;
      }
      case 'BelongsTo': {
        // The target row, and this row (its foreign key says which target it is).
        const out = [instanceMatching(instance, label)];
        const fk = instance.get(a.foreignKey, { raw: true });
        if (fk !== undefined && fk !== null) out.push(modelMatching(a.target, { [a.targetKey ?? metaOf(a.target).primaryKey[0]!]: fk }, label));
        return out;
      }
      case 'BelongsToMany': {
        const sourceKey = a.sourceKey ?? sourcePk[0]!;
        const through = a.through!.model;
        const out = [modelMatching(through, { ...equalityScope(metaOf(through), a.through!.scope), [a.foreignKey]: keyOf(sourceKey, 'source key') }, label)];
        if (!sourcePk.includes(sourceKey)) out.push(instanceMatching(instance, label));
        return out;
      }
      default:
        throw new BadDependencyError(label, a.associationType, `${label}: association type ${a.associationType} is not supported`);
    }
  }
}

/**
 * A dependency on the rows an association of `instance` holds:
 * - hasMany / hasOne: the target rows whose foreign key is this instance's key (scope included),
 *   so adding, removing, moving or editing any of them invalidates;
 * - belongsTo: the target row, and this instance's own row (which holds the foreign key);
 * - belongsToMany: the membership, i.e. the join-table rows of this instance (add/remove/set).
 *   Edits of the target rows themselves are not membership: add the target model or instances too.
 *
 * ```ts
 * await keyv.set(`author:${author.id}:posts`, posts, { dependsOn: [related(author, 'posts')] });
 * ```
 */
export function related(instance: object, alias: string): Related {
  if (!isInstance(instance)) {
    throw new BadDependencyError('related()', instance, `related(): the first argument must be a Sequelize model instance, got ${describe(instance)}`);
  }
  const model = instance.constructor;
  if (typeof alias !== 'string' || alias === '') {
    throw new BadDependencyError(`related(${modelName(model)})`, alias, `related(${modelName(model)}): the alias must be a non-empty string, got ${describe(alias)}`);
  }
  const associations = model.associations ?? {};
  const association = Object.prototype.hasOwnProperty.call(associations, alias) ? associations[alias] : undefined;
  if (!association) {
    const known = Object.keys(associations);
    throw new BadDependencyError(`related(${modelName(model)}, ${describe(alias)})`, alias, `related(${modelName(model)}, ${describe(alias)}): ${modelName(model)} has no association with that alias (${known.length ? `known: ${known.join(', ')}` : 'it has no associations'})`);
  }
  if (!ASSOCIATION_TYPES.has(association.associationType)) {
    throw new BadDependencyError(`related(${modelName(model)}, '${alias}')`, association.associationType, `related(${modelName(model)}, '${alias}'): association type ${association.associationType} is not supported`);
  }
  const result = new Related(instance, alias, association);
  result.conjunctions(); // reject an unsaved instance now, not at the first write
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Row images of an instance (store.invalidate(instance))                                     */
/* ------------------------------------------------------------------------------------------ */

/** @internal The stored (previous) and current images of an instance's row, distinct. */
export function instanceImages(instance: InstanceLike): RowImage[] {
  const meta = metaOf(instance.constructor);
  const current = rowImage(meta, instance.dataValues);
  const previous = instance._previousDataValues ? rowImage(meta, valuesBefore(instance)) : undefined;
  return previous ? [previous, current] : [current];
}

/* ------------------------------------------------------------------------------------------ */
/* The kind                                                                                   */
/* ------------------------------------------------------------------------------------------ */

registerDependencyKind({
  name: 'sequelize',
  conjunctions(dep: object, context?: { store?: unknown }): Matching[] | undefined {
    if (dep instanceof Related) {
      checkRegistered(dep.instance.constructor, dep.instance, 'dependsOn', context);
      return dep.conjunctions();
    }
    if (isModel(dep)) {
      checkRegistered(dep, dep, 'dependsOn', context);
      return [new Matching(metaOf(dep).table, {})];
    }
    if (isInstance(dep)) {
      checkRegistered(dep.constructor, dep, 'dependsOn', context);
      return [instanceMatching(dep, 'dependsOn')];
    }
    return undefined;
  },
  invalidation(dep: object) {
    if (dep instanceof Related) return { matchings: dep.conjunctions(`invalidate(related(${modelName(dep.instance.constructor)}, '${dep.alias}'))`) };
    if (isModel(dep)) return { tables: [metaOf(dep).table] };
    if (isInstance(dep)) {
      instanceMatching(dep, 'invalidate()'); // an unsaved instance has no row to invalidate
      return { rows: instanceImages(dep) };
    }
    return undefined;
  },
  matching(source: object, where: Record<string, unknown>): Matching | undefined {
    if (!isModel(source)) return undefined;
    checkRegistered(source, source, `matching(${modelName(source)})`);
    return modelMatching(source, where);
  },
});
