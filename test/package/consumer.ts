// Type-checked against the built package (dist/*.d.ts) by test/package.test.ts.
import Keyv from 'keyv';
import { CleverStore, matching, withDependencies, type CleverSetOptions } from 'keyv-clever';
import { registerSequelizeHooks, related, type SequelizeHooks } from 'keyv-clever/sequelize';

const keyv = new Keyv({ store: new CleverStore() });
const options: CleverSetOptions = { ttl: 1000, dependsOn: ['tag', matching('posts', { id: 1 })] };
export async function use(): Promise<number> {
  await keyv.set('k', { a: 1 }, options);
  await keyv.set('k', 1, 500);
  await keyv.setMany([{ key: 'k', value: 1, ttl: { dependsOn: ['x'] } }]);
  await withDependencies(['x'], () => keyv.set('k', 2));
  return (keyv.store as CleverStore).invalidate('tag');
}

export function hook(sequelize: object): SequelizeHooks {
  void related;
  return registerSequelizeHooks(sequelize, keyv);
}

// The Sequelize entry points accept Sequelize's own types.
import { DataTypes, Sequelize } from 'sequelize';
import { tableOf } from 'keyv-clever/sequelize';

export async function typedSequelize(): Promise<string> {
  const sequelize = new Sequelize('sqlite::memory:');
  const Post = sequelize.define('Post', { title: DataTypes.STRING });
  const post = await Post.create({ title: 'a' });
  registerSequelizeHooks(sequelize, keyv);
  await keyv.set('p', 1, { dependsOn: [Post, post, matching(Post, { title: 'a' })] });
  return tableOf(Post);
}

// createKeyv and attachKeyv (either Keyv major).
import { attachKeyv, createKeyv } from 'keyv-clever';

export async function wired(): Promise<number> {
  const created = createKeyv(undefined, { namespace: 'app' });
  await created.set('k', 1, { ttl: 1000, dependsOn: ['t'] });
  attachKeyv(keyv);
  return created.store.invalidate('t');
}
