import { BadDependencyError, describe } from './errors.js';
import {
  anySchemeTag, conjunctionTag, encodeValue, escape, schemeOf, tableTag, typeName, userTag,
} from './tags.js';

/**
 * What a cached entry can depend on. Core kinds: a string tag and `matching(table, where)`.
 * Further kinds (Sequelize models, instances, `related()`) plug in through `registerDependencyKind`.
 */
export type Dependency = string | Matching | DependencyObject;

/** Any object a registered dependency kind recognises (a Sequelize model, instance, `related()`…). */
export type DependencyObject = object;

export type WhereValue = string | number | bigint | boolean | null | Date | Uint8Array;

/**
 * An equality conjunction over one table: every row whose `field` equals `value` for all the given
 * fields. An empty `where` means the whole table.
 */
export class Matching {
  readonly table: string;
  readonly where: Readonly<Record<string, WhereValue>>;
  constructor(table: string, where: Record<string, WhereValue>) {
    this.table = table;
    this.where = Object.freeze({ ...where });
  }
}

/**
 * Declares a dependency on the rows of `source` (a table name, or a model of a registered kind
 * such as a Sequelize model) whose fields equal the given values.
 * `matching('posts', { status: 'published' })`, `matching(Post, { authorId: 7 })`.
 */
export function matching(source: string | object, where: Record<string, unknown> = {}): Matching {
  if (where === null || typeof where !== 'object' || Array.isArray(where)) {
    throw new BadDependencyError('matching()', where, `matching(): the conditions must be an object of field: value pairs, got ${describe(where)}`);
  }
  if (typeof source === 'string') {
    if (source === '') throw new BadDependencyError('matching()', source, 'matching(): the table name is an empty string');
    return checkedMatching(source, where);
  }
  for (const kind of kinds) {
    const result = kind.matching?.(source, where);
    if (result) return result;
  }
  throw new BadDependencyError('matching()', source, `matching(): ${describe(source)} is neither a table name nor a model of a registered kind`);
}

function checkedMatching(table: string, where: Record<string, unknown>): Matching {
  for (const [field, value] of Object.entries(where)) {
    if (value === undefined) {
      throw new BadDependencyError(`matching('${table}')`, value, `matching('${table}'): field '${field}' is undefined; use null to match NULL`);
    }
    // Encoding validates the value (NaN, unsupported types) before anything is written.
    encodeValue(value, () => `matching('${table}'): field '${field}'`);
  }
  return new Matching(table, where as Record<string, WhereValue>);
}

/** A row image for invalidation: table name and its column values. */
export interface RowImage {
  table: string;
  values: Readonly<Record<string, unknown>>;
}

/** What an invalidation request asks of a backend; every part is already in canonical form. */
export interface Invalidation {
  /** index tags to invalidate exactly */
  tags: string[];
  /**
   * changed row images (escaped fields -> encoded values): the backend adds the table tag and, per
   * scheme in use, the row's conjunction, or every entry of the scheme when the row lacks a field
   * (so `{ table, values: {} }` invalidates everything that depends on the table)
   */
  rows: Array<{ table: string; values: Record<string, string> }>;
}

/** How one entry's dependencies are recorded by a backend. */
export interface CompiledDependencies {
  /** index tags the entry is listed under */
  tags: string[];
  /** [escaped table, scheme] pairs to add to the scheme registry */
  schemes: Array<[string, string]>;
}

/**
 * A pluggable dependency kind (the Sequelize integration registers one). Each hook returns
 * undefined when the value is not of its kind.
 */
export interface DependencyKind {
  name: string;
  /** The conjunctions an entry depending on `dep` reads. */
  conjunctions(dep: object): Matching[] | undefined;
  /** What `store.invalidate(dep)` must invalidate. */
  invalidation(dep: object): { matchings?: Matching[]; rows?: RowImage[]; tables?: string[] } | undefined;
  /** `matching(model, where)` for this kind's models. */
  matching?(source: object, where: Record<string, unknown>): Matching | undefined;
}

const kinds: DependencyKind[] = [];

/** Adds a dependency kind; registering the same name twice replaces the earlier one. */
export function registerDependencyKind(kind: DependencyKind): void {
  const at = kinds.findIndex((k) => k.name === kind.name);
  if (at >= 0) kinds[at] = kind;
  else kinds.push(kind);
}

export { describe };

function encodeMatching(m: Matching): { fields: string[]; values: string[] } {
  const pairs = Object.entries(m.where).map(([f, v]) => [escape(f), encodeValue(v, () => `matching('${m.table}'): field '${f}'`)] as const);
  pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return { fields: pairs.map((p) => p[0]), values: pairs.map((p) => p[1]) };
}

function kindConjunctions(dep: object, where: string): Matching[] {
  for (const kind of kinds) {
    const result = kind.conjunctions(dep);
    if (result) return result;
  }
  throw new BadDependencyError(where, dep, `${where} is ${describe(dep)} (${typeName(dep)}), which is not a dependency: use a string tag, matching(...), or a model, instance or related(...) of a registered integration`);
}

function checkTag(tag: string, where: string): void {
  if (tag === '') throw new BadDependencyError(where, tag, `${where} is an empty string, which is not a valid tag`);
}

/** Sorts each dependency by kind; anything that is not one is a TypeError naming it and its place. */
function visit(deps: unknown, where: (i: number) => string, on: {
  tag(tag: string): void;
  matching(m: Matching): void;
  object(dep: object, where: string): void;
}): void {
  (deps as unknown[]).forEach((dep, i) => {
    if (typeof dep === 'string') {
      checkTag(dep, where(i));
      on.tag(dep);
    } else if (dep instanceof Matching) {
      on.matching(dep);
    } else if (dep !== null && (typeof dep === 'object' || typeof dep === 'function')) {
      on.object(dep, where(i));
    } else {
      throw new BadDependencyError(where(i), dep, `${where(i)} is ${describe(dep)}, which is not a dependency: use a string tag, matching(...), or a model, instance or related(...)`);
    }
  });
}

/** Checks `dependsOn` and compiles it into index tags and schemes; throws TypeError on bad input. */
export function compileDependencies(dependsOn: unknown, label = 'dependsOn'): CompiledDependencies {
  if (!Array.isArray(dependsOn)) {
    throw new BadDependencyError(label, dependsOn, `${label} must be an array of dependencies, got ${describe(dependsOn)}`);
  }
  const tags = new Set<string>();
  const schemes = new Map<string, [string, string]>();
  const addMatching = (m: Matching) => {
    const { fields, values } = encodeMatching(m);
    tags.add(conjunctionTag(m.table, fields, values));
    if (fields.length > 0) {
      const scheme = schemeOf(fields);
      tags.add(anySchemeTag(m.table, scheme));
      schemes.set(`${escape(m.table)}|${scheme}`, [escape(m.table), scheme]);
    }
  };
  visit(dependsOn, (i) => `${label}[${i}]`, {
    tag: (tag) => tags.add(userTag(tag)),
    matching: addMatching,
    object: (dep, where) => kindConjunctions(dep, where).forEach(addMatching),
  });
  return { tags: [...tags], schemes: [...schemes.values()] };
}

/** Builds the invalidation request for `store.invalidate(...deps)`. */
export function compileInvalidation(deps: readonly unknown[]): Invalidation {
  const tags = new Set<string>();
  const rows: Invalidation['rows'] = [];
  // A row image with no values: every scheme on the table lacks its fields, so all of them go.
  const wholeTable = (table: string) => rows.push({ table, values: {} });
  const addMatching = (m: Matching) => {
    const { fields, values } = encodeMatching(m);
    if (fields.length === 0) return wholeTable(m.table);
    // The rows in that set changed, so the table changed too: entries on the whole table go as well.
    tags.add(conjunctionTag(m.table, fields, values));
    tags.add(tableTag(m.table));
  };
  visit(deps, (i) => `invalidate() argument ${i}`, {
    tag: (tag) => tags.add(userTag(tag)),
    matching: addMatching,
    object: (dep, where) => {
      for (const kind of kinds) {
        const result = kind.invalidation(dep);
        if (!result) continue;
        result.matchings?.forEach(addMatching);
        result.tables?.forEach(wholeTable);
        for (const row of result.rows ?? []) rows.push(encodeRow(row));
        return;
      }
      kindConjunctions(dep, where); // throws the standard message
    },
  });
  return { tags: [...tags], rows };
}

/** Encodes a row image (old or new values of a changed row) for the backends. */
export function encodeRow(row: RowImage): { table: string; values: Record<string, string> } {
  const values: Record<string, string> = {};
  for (const [f, v] of Object.entries(row.values)) {
    if (v === undefined) continue; // unknown column value: schemes that need it fall back to the table
    values[escape(f)] = encodeValue(v, () => `row of '${row.table}': field '${f}'`);
  }
  return { table: row.table, values };
}
