/**
 * A Sequelize of its own for a test or a benchmark, on any dialect the suite runs: SQLite in
 * memory, or a fresh PostgreSQL schema / MariaDB database that `closeSequelize` drops again, so
 * runs never see each other's tables.
 */
import { Sequelize, type Options } from 'sequelize';
import { MARIADB_URL, PG_URL } from './services.js';

export type Dialect = 'sqlite' | 'postgres' | 'mariadb';

let counter = 0;
/** A name no other test or run uses (a schema, a database, a namespace). */
export function unique(label: string): string {
  counter += 1;
  return `${label}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

/** Where each opened Sequelize lives, to drop it on close. */
const places = new WeakMap<Sequelize, { dialect: Dialect; name: string }>();

export async function openSequelize(dialect: Dialect, options: Options = {}): Promise<Sequelize> {
  if (dialect === 'sqlite') return new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false, ...options });
  const name = unique('kcs').toLowerCase();
  let sequelize: Sequelize;
  if (dialect === 'postgres') {
    const admin = new Sequelize(PG_URL, { logging: false });
    await admin.query(`CREATE SCHEMA "${name}"`);
    await admin.close();
    // (application_name: tests can tell this instance's connections from any other's)
    sequelize = new Sequelize(PG_URL, { logging: false, pool: { max: 5 }, dialectOptions: { options: `-c search_path=${name}`, application_name: name }, ...options });
  } else {
    const admin = new Sequelize(MARIADB_URL, { logging: false });
    await admin.query(`CREATE DATABASE \`${name}\``);
    await admin.close();
    const url = new URL(MARIADB_URL);
    url.pathname = `/${name}`;
    sequelize = new Sequelize(url.toString(), { logging: false, pool: { max: 5 }, ...options });
  }
  places.set(sequelize, { dialect, name });
  return sequelize;
}

export async function closeSequelize(sequelize: Sequelize): Promise<void> {
  await sequelize.close();
  const place = places.get(sequelize);
  if (!place) return;
  const admin = new Sequelize(place.dialect === 'postgres' ? PG_URL : MARIADB_URL, { logging: false });
  await admin.query(place.dialect === 'postgres' ? `DROP SCHEMA IF EXISTS "${place.name}" CASCADE` : `DROP DATABASE IF EXISTS \`${place.name}\``);
  await admin.close();
}
