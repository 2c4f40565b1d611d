// cls-hooked ships no types; the tests only create and destroy a namespace for Sequelize.useCLS.
declare module 'cls-hooked' {
  export interface Namespace {
    get(key: string): unknown;
    set<T>(key: string, value: T): T;
    run(fn: (...args: unknown[]) => void): void;
    bind<F extends (...args: never[]) => unknown>(fn: F): F;
  }
  export function createNamespace(name: string): Namespace;
  export function destroyNamespace(name: string): void;
}
