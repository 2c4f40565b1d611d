/**
 * Our hooks run before any application code can look at the cache: before every model hook,
 * options hook of `define` and global hook on the same write, and before every afterCommit
 * callback of the transaction, whenever those were registered.
 *
 * Sequelize runs a model's own hooks first, then the Sequelize instance's (global) ones, each list
 * in insertion order; `afterSave` is stored as `afterCreate` + `afterUpdate`. So the write-path
 * hooks go at the front of every model's own lists: for the models defined now, and through a
 * global `afterDefine` hook for those defined later (join tables included).
 * @internal
 */
import type { ModelLike, SequelizeLike, TransactionLike } from './model.js';

type Hook = (...args: never[]) => unknown;
type Hooked = { options: { hooks?: Record<string, Array<Hook | { name?: string; fn: Hook }>> } };

/** @internal Puts `fn` first among `hooked`'s hooks of `type`, under `name` (so removeHook(type, name) removes it). */
export function prependHook(hooked: Hooked, type: string, name: string, fn: Hook): void {
  const hooks = (hooked.options.hooks ??= {});
  hooks[type] = [{ name, fn }, ...(hooks[type] ?? [])];
}

/**
 * Installs `hooks` first on every model of `sequelize`, now and as models are defined; returns
 * what removes them all again.
 * @internal
 */
export function installFirst(sequelize: SequelizeLike, name: string, hooks: Record<string, Hook>): () => void {
  const models = new Set<ModelLike>();
  const install = (model: ModelLike) => {
    if (models.has(model)) return;
    models.add(model);
    for (const [type, fn] of Object.entries(hooks)) prependHook(model as unknown as Hooked, type, name, fn);
  };
  for (const model of Object.values(sequelize.models ?? {})) install(model);
  sequelize.addHook('afterDefine', name, (model: ModelLike) => install(model));
  return () => {
    sequelize.removeHook('afterDefine', name);
    for (const model of models) for (const type of Object.keys(hooks)) (model as unknown as { removeHook(t: string, n: string): unknown }).removeHook(type, name);
    models.clear();
  };
}

/** Runs `fn` after `root` commits, before the afterCommit callbacks registered so far. @internal */
export function afterCommitFirst(root: TransactionLike, fn: () => unknown): void {
  const queue = (root as { _afterCommitHooks?: unknown })._afterCommitHooks;
  if (Array.isArray(queue)) queue.unshift(fn);
  else root.afterCommit(fn);
}
